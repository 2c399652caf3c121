// Package web is Duet's HTTP edge: the Echo application that routes the WebSocket endpoint and
// the health checks, and answers every request that is not a WebSocket.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Readiness reports whether the engines answer.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Options configure the application.
type Options struct {
	WebSocket http.Handler // the protocol endpoint, served at /ws
	Ready     Readiness
	ClientIP  func(r *http.Request) string // see ClientIP
	Log       *slog.Logger
}

// ClientIP returns how the address of the client behind a request is found. Without trusted
// proxies it is the TCP peer, and X-Forwarded-For is ignored. From a trusted proxy it is the
// right-most address in X-Forwarded-For that is not itself a trusted proxy, so a client cannot
// pass for another by writing the header itself.
func ClientIP(trusted []netip.Prefix) func(r *http.Request) string {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	// Echo trusts loopback, link-local and private networks unless told not to.
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// indexPage is what / shows: this build serves the protocol, and clients speak it at /ws.
const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duet</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem">
<h1>Duet is running</h1>
<p>This build serves the chat protocol without the web page. Connect any client of the
protocol to the WebSocket at <code>/ws</code>; the protocol is described in
<code>docs/protocol.md</code> of the source.</p>
<p>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a>.</p>
</body></html>
`

// readyTimeout bounds how long /readyz waits for the engines.
const readyTimeout = 2 * time.Second

// New returns the Echo application with every route.
func New(o Options) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = o.ClientIP
	e.Use(middleware.Recover())
	e.HTTPErrorHandler = errorHandler(o.Log)

	e.GET("/ws", echo.WrapHandler(o.WebSocket))
	e.GET("/", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.HTML(http.StatusOK, indexPage)
	})
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
		defer cancel()
		if err := o.Ready.Ready(ctx); err != nil {
			o.Log.Warn("not ready", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the engine does not answer"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	return e
}

// errorHandler answers failures with a JSON message and never with a Go error's text.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code, msg := http.StatusInternalServerError, "internal error"
		if he, ok := err.(*echo.HTTPError); ok {
			code = he.Code
			msg = http.StatusText(code)
			if s, ok := he.Message.(string); ok {
				msg = s
			}
		} else {
			log.Error("request failed", "path", c.Path(), "err", err)
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(code)
		} else {
			err = c.JSON(code, map[string]string{"error": msg})
		}
		if err != nil {
			log.Warn("writing an error response", "err", err)
		}
	}
}
