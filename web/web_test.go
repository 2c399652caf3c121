package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

type readiness struct{ err error }

func (r readiness) Ready(context.Context) error { return r.err }

// page stands in for the built web page.
var page = fstest.MapFS{
	"index.html":            {Data: []byte(`<!doctype html><div id="app"></div><script src="/assets/index-Ab12.js"></script>`)},
	"favicon.svg":           {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	"assets/index-Ab12.js":  {Data: []byte(`console.log("duet")` + strings.Repeat(";", 4096))},
	"assets/index-Cd34.css": {Data: []byte(`body{}`)},
}

func newApp(ready error) http.Handler {
	return New(Options{
		WebSocket:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "websocket") }),
		Ready:        readiness{ready},
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Page:         page,
		PageSettings: PageSettings{MaxSessions: 4, MaxContent: 500, MaxNickname: 20, InterestWaitMs: 3000, Site: SiteTexts{Name: "Night Owls", Rules: "Be kind."}},
		Online: func(context.Context) (OnlineCount, error) {
			if ready != nil {
				return OnlineCount{}, ready
			}
			return OnlineCount{Online: 12, Waiting: 3}, nil
		},
	})
}

func get(t *testing.T, app http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	tests := map[string]struct {
		path      string
		ready     error
		wantCode  int
		wantBody  string
		wantCache string
	}{
		"page":             {"/", nil, http.StatusOK, `<div id="app">`, cacheIndex},
		"view of the app":  {"/admin", nil, http.StatusOK, `<div id="app">`, cacheIndex},
		"nested view":      {"/admin/reports/7", nil, http.StatusOK, `<div id="app">`, cacheIndex},
		"asset":            {"/assets/index-Ab12.js", nil, http.StatusOK, `console.log("duet")`, cacheAsset},
		"file at the root": {"/favicon.svg", nil, http.StatusOK, "<svg", cacheIndex},
		"missing asset":    {"/assets/index-Old0.js", nil, http.StatusNotFound, `"error"`, ""},
		"asset folder":     {"/assets/", nil, http.StatusNotFound, `"error"`, ""},
		"missing file":     {"/robots.txt", nil, http.StatusNotFound, `"error"`, ""},
		"escape":           {"/assets/../../web.go", nil, http.StatusNotFound, `"error"`, ""},
		"websocket":        {"/ws", nil, http.StatusOK, "websocket", ""},
		"admin API, off":   {"/admin/api/stats", nil, http.StatusNotFound, `"error"`, ""},
		"metrics, off":     {"/metrics", nil, http.StatusNotFound, `"error"`, ""},
		"online":           {"/online.json", nil, http.StatusOK, `{"online":12,"waiting":3}`, "public, max-age=2"},
		"online, no count": {"/online.json", errors.New("dial tcp: refused"), http.StatusServiceUnavailable, "not available", ""},
		"page settings":    {"/settings.json", nil, http.StatusOK, `{"maxSessions":4,"maxContent":500,"maxNickname":20,"interestWaitMs":3000,"site":{"name":"Night Owls","rules":"Be kind."}}`, cacheIndex},
		"health":           {"/healthz", errors.New("down"), http.StatusOK, `"ok"`, ""},
		"ready":            {"/readyz", nil, http.StatusOK, `"ready"`, ""},
		"not ready":        {"/readyz", errors.New("dial tcp: refused"), http.StatusServiceUnavailable, "the engine does not answer", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := get(t, newApp(tt.ready), http.MethodGet, tt.path, nil)
			body := rec.Body.String()
			if rec.Code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, rec.Code, body, tt.wantCode, tt.wantBody)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("GET %s: Cache-Control = %q, want %q", tt.path, got, tt.wantCache)
			}
			if strings.Contains(body, "dial tcp") {
				t.Errorf("GET %s leaks an internal error: %q", tt.path, body)
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	app := newApp(nil)
	rec := get(t, app, http.MethodGet, "/", nil)
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("GET /: no %s header", h)
		}
	}
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("GET /: Content-Type = %q, want text/html", got)
	}
	if got := get(t, app, http.MethodGet, "/assets/index-Cd34.css", nil).Header().Get("Content-Type"); !strings.HasPrefix(got, "text/css") {
		t.Errorf("GET a stylesheet: Content-Type = %q, want text/css", got)
	}
	head := get(t, app, http.MethodHead, "/admin", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD /admin = %d with %d bytes, want 200 and no body", head.Code, head.Body.Len())
	}
}

func TestPageCompressed(t *testing.T) {
	rec := get(t, newApp(nil), http.MethodGet, "/assets/index-Ab12.js", http.Header{"Accept-Encoding": {"gzip"}})
	if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("GET an asset accepting gzip: Content-Encoding = %q, want gzip", got)
	}
	if rec.Body.Len() >= len(page["assets/index-Ab12.js"].Data) {
		t.Errorf("the gzipped asset has %d bytes, no fewer than the %d of the file", rec.Body.Len(), len(page["assets/index-Ab12.js"].Data))
	}
}
