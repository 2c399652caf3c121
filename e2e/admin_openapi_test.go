package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// openAPIFile is the OpenAPI description of the admin API.
var openAPIFile = filepath.Join("..", "docs", "admin-openapi.yaml")

// loadAdminOpenAPI loads and validates the description, for a server at base.
func loadAdminOpenAPI(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIFile)
	if err != nil {
		t.Fatalf("loading %s: %v", openAPIFile, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3 document: %v", openAPIFile, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// apiCall is one call of the admin API and the status it must get.
type apiCall struct {
	method, path string
	body         any    // nil, a string sent as is, or a value sent as JSON
	token        string // "" for the admin token, "-" for none
	want         int
}

// openAPIChecker calls a server's admin API and checks each exchange against the description.
type openAPIChecker struct {
	t      *testing.T
	s      *server
	router routers.Router
	seen   map[string][]int // operation ("GET /admin/api/stats") → statuses validated
}

// call makes c and validates the response (and, for a success, the request) against the
// description; it returns the JSON body.
func (o *openAPIChecker) call(c apiCall) frame {
	o.t.Helper()
	var data []byte
	switch b := c.body.(type) {
	case nil:
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			o.t.Fatal(err)
		}
	}
	newRequest := func() *http.Request {
		req, err := http.NewRequest(c.method, o.s.httpURL()+c.path, bytes.NewReader(data))
		if err != nil {
			o.t.Fatal(err)
		}
		if c.token == "" {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		req.Header.Set("X-Duet-Operator", "tester")
		if data != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req
	}
	resp, err := http.DefaultClient.Do(newRequest())
	if err != nil {
		o.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		o.t.Fatal(err)
	}
	what := fmt.Sprintf("%s %s -> %d %s", c.method, c.path, resp.StatusCode, body)
	if resp.StatusCode != c.want {
		o.t.Fatalf("%s; want status %d", what, c.want)
	}

	req := newRequest()
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		o.t.Errorf("%s: not described: %v", what, err)
		return parseFrame(body)
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if c.want < 300 {
		// A request the server accepted must be one the description allows; refused ones are
		// often refused for breaking it.
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			o.t.Errorf("%s: the request does not match the description: %v", what, err)
		}
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		o.t.Errorf("%s: the response does not match the description: %v", what, err)
	}
	op := c.method + " " + route.Path
	o.seen[op] = append(o.seen[op], resp.StatusCode)
	return parseFrame(body)
}

// TestAdminOpenAPI: docs/admin-openapi.yaml is a valid OpenAPI 3 document, and every admin
// endpoint of a running node, called to succeed and to fail, answers as it says.
func TestAdminOpenAPI(t *testing.T) {
	// Every endpoint is called without the token too: more wrong tokens than an address may send.
	s := startServerRaw(t, append(append([]string{"--admin-token-tries", "1000"}, behindProxy...), withAdmin...)...)
	doc, router := loadAdminOpenAPI(t, s.httpURL())
	o := &openAPIChecker{t: t, s: s, router: router, seen: map[string][]int{}}

	ann, bob := userFrom(t, s, seedDialect, "Ann", "198.51.100.1"), userFrom(t, s, seedDialect, "Bob", "198.51.100.2")
	reported := pair(t, ann, bob)
	bob.sayTo(ann, reported, "buy now")
	r := ann.request("REPORT", map[string]any{"sessionId": reported, "category": "spam", "note": "ad bot"})
	wantCode(t, r, 0)
	reportID := wantID(t, r, "reportId")
	cid, dan := userFrom(t, s, seedDialect, "Cid", "198.51.100.3"), userFrom(t, s, seedDialect, "Dan", "198.51.100.4")
	live := pair(t, cid, dan)
	cid.sayTo(dan, live, "hello")
	eve := userFrom(t, s, seedDialect, "Eve", "198.51.100.5")
	wantCode(t, eve.match("go"), 4)

	reason := map[string]any{"reason": "checking the description"}
	for _, c := range []apiCall{
		{method: "GET", path: "/metrics", want: 200},
		{method: "GET", path: "/metrics", token: "-", want: 401},
		{method: "GET", path: "/admin/api/stats", want: 200},
		{method: "GET", path: "/admin/api/stats", token: "-", want: 401},
		{method: "GET", path: "/admin/api/stats/history", want: 200},
		{method: "GET", path: "/admin/api/stats/history", token: "-", want: 401},
		{method: "GET", path: "/admin/api/accounts?nickname=an", want: 200},
		{method: "GET", path: "/admin/api/accounts?nickname=an&limit=500", want: 400},
		{method: "GET", path: fmt.Sprint("/admin/api/bans/impact?kind=network&accountId=", cid.id), want: 200},
		{method: "GET", path: "/admin/api/bans/impact?kind=address&value=" + strings.Repeat("cd", 16), want: 200},
		{method: "GET", path: "/admin/api/bans/impact?kind=address", want: 400},
		{method: "GET", path: "/admin/api/bans/impact?kind=account&accountId=12345", want: 404},
		{method: "GET", path: "/admin/api/nodes", want: 200},
		{method: "GET", path: "/admin/api/nodes", token: "-", want: 401},
		{method: "GET", path: "/admin/api/queue", want: 200},
		{method: "GET", path: "/admin/api/queue", token: "-", want: 401},
		{method: "GET", path: "/admin/api/sessions", want: 200},
		{method: "GET", path: fmt.Sprint("/admin/api/sessions?account=", dan.id), want: 200},
		{method: "GET", path: "/admin/api/sessions?limit=0", want: 400},
		{method: "GET", path: fmt.Sprint("/admin/api/sessions/", live), want: 200},
		{method: "GET", path: "/admin/api/sessions/12345", want: 404},
		{method: "GET", path: fmt.Sprint("/admin/api/accounts/", cid.id), want: 200},
		{method: "GET", path: "/admin/api/accounts/12345", want: 404},
		{method: "GET", path: "/admin/api/reports", want: 200},
		{method: "GET", path: "/admin/api/reports?status=open&category=spam", want: 200},
		{method: "GET", path: "/admin/api/reports?status=maybe", want: 400},
		{method: "GET", path: fmt.Sprint("/admin/api/reports/", reportID), want: 200},
		{method: "GET", path: "/admin/api/reports/12345", want: 404},
		{method: "POST", path: "/admin/api/bans", body: map[string]any{"kind": "account", "accountId": eve.id, "duration": "1h", "reason": "spam"}, want: 201},
		{method: "POST", path: "/admin/api/bans", body: map[string]any{"kind": "account", "accountId": eve.id, "duration": "forever", "reason": "spam"}, want: 400},
		{method: "GET", path: "/admin/api/bans", want: 200},
		{method: "GET", path: "/admin/api/bans", token: "-", want: 401},
	} {
		o.call(c)
	}
	banID := wantID(t, o.call(apiCall{method: "POST", path: "/admin/api/bans", body: map[string]any{
		"kind": "network", "value": strings.Repeat("ab", 16), "duration": "30m", "reason": "spam wave"}, want: 201}), "id")
	for _, c := range []apiCall{
		{method: "DELETE", path: fmt.Sprint("/admin/api/bans/", banID), body: reason, want: 200},
		{method: "DELETE", path: fmt.Sprint("/admin/api/bans/", banID), body: reason, want: 404},
		{method: "POST", path: fmt.Sprint("/admin/api/reports/", reportID, "/resolve"), want: 200,
			body: map[string]any{"decision": "accept", "note": "ad bot", "ban": map[string]any{"kind": "address", "duration": "72h"}}},
		{method: "POST", path: fmt.Sprint("/admin/api/reports/", reportID, "/resolve"), body: map[string]any{"decision": "reject", "note": "again"}, want: 409},
		{method: "GET", path: fmt.Sprint("/admin/api/reports/", reportID), want: 200}, // now with its resolution
		{method: "POST", path: fmt.Sprint("/admin/api/accounts/", ann.id, "/kick"), body: reason, want: 204},
		{method: "POST", path: "/admin/api/accounts/12345/kick", body: reason, want: 404},
		{method: "POST", path: fmt.Sprint("/admin/api/sessions/", live, "/end"), body: reason, want: 204},
		{method: "POST", path: fmt.Sprint("/admin/api/sessions/", live, "/end"), body: reason, want: 409},
		{method: "GET", path: fmt.Sprint("/admin/api/sessions/", live), want: 200}, // now ended
		{method: "POST", path: "/admin/api/broadcast", body: map[string]any{"text": "Maintenance at 22:00 UTC", "level": "warning"}, want: 204},
		{method: "POST", path: "/admin/api/broadcast", body: map[string]any{"text": "hi", "level": "loud"}, want: 400},
		{method: "GET", path: "/admin/api/settings", want: 200},
		{method: "GET", path: "/admin/api/settings", token: "-", want: 401},
		{method: "PUT", path: "/admin/api/settings", body: map[string]any{"matchingPaused": true, "reason": "spam wave"}, want: 200},
		{method: "PUT", path: "/admin/api/settings", body: `{"reason": "no switch"}`, want: 400},
		{method: "GET", path: "/admin/api/challenge", want: 200},
		{method: "GET", path: "/admin/api/challenge", token: "-", want: 401},
		{method: "PUT", path: "/admin/api/challenge", body: map[string]any{"mode": "on", "reason": "bot wave"}, want: 200},
		{method: "PUT", path: "/admin/api/challenge", body: map[string]any{"mode": "always", "reason": "bot wave"}, want: 400},
		{method: "GET", path: "/admin/api/audit?limit=5", want: 200},
		{method: "GET", path: "/admin/api/audit?limit=0", want: 400},
	} {
		o.call(c)
	}

	// Every operation described was seen to succeed and to fail.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			statuses := o.seen[op]
			if !slices.ContainsFunc(statuses, func(s int) bool { return s < 300 }) || !slices.ContainsFunc(statuses, func(s int) bool { return s >= 400 }) {
				t.Errorf("%s: validated statuses %v; want a success and an error", op, statuses)
			}
		}
	}
}
