// Package web is Duet's HTTP edge: the Echo application that routes the WebSocket endpoint, the
// health checks and the web page, and answers every request that is not a WebSocket.
package web

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
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
	Gate      *Gate        // admits new WebSockets; nil: all
	Ready     Readiness
	ClientIP  func(r *http.Request) string // see ClientIP
	Log       *slog.Logger
	// Page is the web page: index.html at its root, content-hashed files under assets/.
	Page fs.FS
	// PageSettings are served at /settings.json for the page.
	PageSettings PageSettings
	// Online counts the people using the whole service, served at /online.json.
	Online func(ctx context.Context) (OnlineCount, error)
}

// OnlineCount is what the page shows of the service's use.
type OnlineCount struct {
	Online  int `json:"online"`  // accounts connected
	Waiting int `json:"waiting"` // accounts waiting for a partner
}

// onlineMaxAge is how long a count is reused: every page asks, and counting reads the engines.
// It is short because a searcher's page reads the count every few seconds to watch it move.
const onlineMaxAge = 2 * time.Second

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

// PageSettings are what the page needs to know of the server: its limits (it offers chats up
// to MaxSessions, checks lengths before sending and offers to drop interests after
// InterestWait), and the operator's texts of the site.
type PageSettings struct {
	MaxSessions    int       `json:"maxSessions"`
	MaxContent     int       `json:"maxContent"`
	MaxNickname    int       `json:"maxNickname"`
	InterestWaitMs int64     `json:"interestWaitMs"`
	Site           SiteTexts `json:"site"`
}

// readyTimeout bounds how long /readyz waits for the engines.
const readyTimeout = 2 * time.Second

// New returns the Echo application with every route.
func New(o Options) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = o.ClientIP
	e.Use(middleware.Recover())
	e.HTTPErrorHandler = errorHandler(o.Log)

	ws := o.WebSocket
	if o.Gate != nil {
		ws = o.Gate.Guard(ws)
	}
	e.GET("/ws", echo.WrapHandler(ws))
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		if o.Gate != nil {
			if status, msg := o.Gate.state(); status != "" {
				return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": status, "error": msg})
			}
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
		defer cancel()
		if err := o.Ready.Ready(ctx); err != nil {
			o.Log.Warn("not ready", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the engine does not answer"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/online.json", onlineHandler(o.Online, o.Log))
	servePage(e, o.Page, o.PageSettings)
	return e
}

// onlineHandler answers /online.json with a count at most onlineMaxAge old.
func onlineHandler(count func(ctx context.Context) (OnlineCount, error), log *slog.Logger) echo.HandlerFunc {
	var mu sync.Mutex // guards last and at, and lets one request count while the others wait
	var last OnlineCount
	var at time.Time
	return func(c echo.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) >= onlineMaxAge {
			ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
			defer cancel()
			n, err := count(ctx)
			if err != nil {
				log.Warn("counting who is online", "err", err)
				return echo.NewHTTPError(http.StatusServiceUnavailable, "the count is not available now")
			}
			last, at = n, time.Now()
		}
		c.Response().Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(onlineMaxAge.Seconds())))
		return c.JSON(http.StatusOK, last)
	}
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
