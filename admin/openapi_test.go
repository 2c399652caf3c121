package admin_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/duetchat/duet/admin"
)

// TestOpenAPIDescribesEveryRoute: docs/admin-openapi.yaml describes each route Register adds,
// and nothing else. (e2e/admin_openapi_test.go checks the answers of each against it.)
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../docs/admin-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("not a valid OpenAPI 3 document: %v", err)
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}

	e := echo.New()
	admin.Register(e, admin.Options{Token: "a-token-of-sixteen-or-more", Metrics: http.NotFoundHandler()})
	param := regexp.MustCompile(`:(\w+)`)
	var registered []string
	for _, r := range e.Routes() {
		if r.Path == "/admin/api/*" || r.Method == echo.RouteNotFound {
			continue // the 404s of unknown paths, not endpoints
		}
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	if len(registered) == 0 {
		t.Fatal("Register added no routes")
	}
	for _, route := range registered {
		if !slices.Contains(described, route) {
			t.Errorf("%s is registered but not described in docs/admin-openapi.yaml", route)
		}
	}
	for _, op := range described {
		if !slices.Contains(registered, op) {
			t.Errorf("%s is described in docs/admin-openapi.yaml but not registered", op)
		}
	}
}
