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
)

type readiness struct{ err error }

func (r readiness) Ready(context.Context) error { return r.err }

func TestRoutes(t *testing.T) {
	tests := map[string]struct {
		path     string
		ready    error
		wantCode int
		wantBody string
	}{
		"index":         {"/", nil, http.StatusOK, "/ws"},
		"health":        {"/healthz", errors.New("down"), http.StatusOK, `"ok"`},
		"ready":         {"/readyz", nil, http.StatusOK, `"ready"`},
		"not ready":     {"/readyz", errors.New("dial tcp: refused"), http.StatusServiceUnavailable, "the engine does not answer"},
		"unknown route": {"/nope", nil, http.StatusNotFound, `"error"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			app := New(Options{WebSocket: http.NotFoundHandler(), Ready: readiness{tt.ready}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			body := rec.Body.String()
			if rec.Code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, rec.Code, body, tt.wantCode, tt.wantBody)
			}
			if strings.Contains(body, "dial tcp") {
				t.Errorf("GET %s leaks an internal error: %q", tt.path, body)
			}
		})
	}
}
