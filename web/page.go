package web

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Cache lifetimes of the page's files. Files under assets/ carry a hash of their content in
// their name, so a browser may keep them for good; index.html names the current ones, so a
// browser must check for a new one on every load.
const (
	cacheAsset = "public, max-age=31536000, immutable"
	cacheIndex = "no-cache"
)

// pageSecurityHeaders keep the page's own origin the only source of code, styles and
// connections (the WebSocket is same-origin), and keep other sites from framing it.
var pageSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

// servePage routes the web page and its settings. The page is a single-page app: /assets/ holds its files, a file at
// the root (favicon.svg) is served as it is, and every other path that does not look like a
// file gets index.html, whose router shows the view for it (/, /admin). A missing asset or
// file is a 404, so that a stale reference fails loudly instead of getting HTML.
func servePage(e *echo.Echo, page fs.FS, settings PageSettings) {
	gzip := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024})
	methods := []string{http.MethodGet, http.MethodHead}
	e.GET("/settings.json", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", cacheIndex)
		return c.JSON(http.StatusOK, settings)
	})
	e.Match(methods, "/assets/*", func(c echo.Context) error {
		return serveFile(c, page, c.Request().URL.Path, cacheAsset)
	}, gzip)
	e.Match(methods, "/*", func(c echo.Context) error {
		name := c.Request().URL.Path
		if err := serveFile(c, page, name, cacheIndex); !errors.Is(err, echo.ErrNotFound) {
			return err
		}
		if path.Ext(name) != "" || isAPI(name) {
			return echo.ErrNotFound
		}
		return serveFile(c, page, "/index.html", cacheIndex)
	}, gzip)
}

// isAPI reports whether a path belongs to the server's own endpoints rather than to a view of
// the page, so that it is a 404 when the endpoint is not there (the admin API is off, say).
func isAPI(urlPath string) bool {
	return urlPath == "/metrics" || urlPath == "/admin/api" || strings.HasPrefix(urlPath, "/admin/api/")
}

// serveFile answers with the named file of page, or echo.ErrNotFound when there is none.
func serveFile(c echo.Context, page fs.FS, urlPath, cacheControl string) error {
	name := strings.TrimPrefix(path.Clean(urlPath), "/")
	if name == "" {
		return echo.ErrNotFound
	}
	info, err := fs.Stat(page, name)
	if err != nil || info.IsDir() {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Cache-Control", cacheControl)
	for k, v := range pageSecurityHeaders {
		h.Set(k, v)
	}
	http.ServeFileFS(c.Response(), c.Request(), page, name)
	return nil
}
