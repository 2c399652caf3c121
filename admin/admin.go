// Package admin is the operators' JSON API under /admin/api/: the service's figures, node by
// node; look up accounts, sessions, the queue, reports and bans; ban, kick, end sessions,
// decide reports, send a notice to everyone, pause matching; and read the audit log, where
// every call that changes something is written with who made it, when and why. It also guards
// the Prometheus metrics at /metrics. It exists only when an admin token is configured, and
// answers nothing to a request without that token.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// Options are what the API reads from and acts through.
type Options struct {
	Token string // the bearer token; Register must not be called without one
	// A client address may send TokenTries wrong tokens in a row, then one more per TokenWait.
	TokenTries int
	TokenWait  time.Duration
	Service    *session.Service
	Store      session.Store
	Queue      match.Queue
	Moderation moderation.Store
	Board      metrics.Board
	Challenges *challenge.Gate
	Metrics    http.Handler // served at /metrics, behind the same token
	Now        func() time.Time
	Log        *slog.Logger
}

// OperatorHeader names the operator making a call; calls that change something need it, so the
// audit log can say who did what.
const OperatorHeader = "X-Duet-Operator"

// Limits on what operators write.
const (
	maxOperatorLen = 60
	maxReasonLen   = 500
	maxListLimit   = 1000
)

type api struct {
	Options
	guesses *guesses
}

// Register adds the API to e under /admin/api.
func Register(e *echo.Echo, o Options) {
	a := &api{Options: o, guesses: newGuesses(rate.Every(o.TokenWait), o.TokenTries)}
	e.GET("/metrics", echo.WrapHandler(o.Metrics), a.authenticate)
	g := e.Group("/admin/api", a.logRequests, a.authenticate)
	g.GET("/stats", a.stats)
	g.GET("/stats/history", a.history)
	g.GET("/nodes", a.nodes)
	g.GET("/bans", a.bans)
	g.GET("/bans/impact", a.banImpact)
	g.POST("/bans", a.ban)
	g.DELETE("/bans/:id", a.liftBan)
	g.GET("/accounts", a.findAccounts)
	g.GET("/accounts/:id", a.account)
	g.POST("/accounts/:id/kick", a.kick)
	g.GET("/sessions", a.sessions)
	g.GET("/sessions/:id", a.session)
	g.POST("/sessions/:id/end", a.endSession)
	g.GET("/queue", a.queue)
	g.POST("/broadcast", a.broadcast)
	g.GET("/settings", a.settings)
	g.PUT("/settings", a.changeSettings)
	g.GET("/challenge", a.challenge)
	g.PUT("/challenge", a.changeChallenge)
	g.GET("/reports", a.reports)
	g.GET("/reports/:id", a.report)
	g.POST("/reports/:id/resolve", a.resolveReport)
	g.GET("/audit", a.audit)
	g.Any("/*", func(echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no such admin endpoint") })
}

// authenticate refuses a request without the bearer token with 401. The token is compared in
// constant time, by hash, so that neither its content nor its length leaks. A client address
// that has sent too many wrong tokens is answered 429, whatever it sends, until it may try again.
func (a *api) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	want := sha256.Sum256([]byte(a.Token))
	return func(c echo.Context) error {
		address, now := c.RealIP(), a.Now()
		if wait := a.guesses.wait(address, now); wait > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many wrong admin tokens from this address; try again later")
		}
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			a.guesses.wrong(address, now)
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="duet-admin"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "a valid admin token is required")
		}
		c.Set(operatorKey, true)
		return next(c)
	}
}

// maxGuessers bounds the addresses whose wrong tokens are counted at once.
const maxGuessers = 10000

// guesses counts wrong admin tokens by client address: each address has a bucket of tries
// that a wrong token empties by one and that refills at a steady rate.
type guesses struct {
	every rate.Limit
	tries int

	mu sync.Mutex // guards by
	by map[string]*rate.Limiter
}

func newGuesses(every rate.Limit, tries int) *guesses {
	return &guesses{every: every, tries: tries, by: make(map[string]*rate.Limiter)}
}

// wait returns how long address must wait before its next try; 0: it may try now. While
// maxGuessers addresses are counted, none of them with its tries back, a new one waits too, so
// that memory stays bounded under guesses from very many addresses.
func (g *guesses) wait(address string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.by[address]
	if !ok {
		if len(g.by) < maxGuessers {
			return 0
		}
		g.prune(now)
		if len(g.by) < maxGuessers {
			return 0
		}
		return time.Duration(float64(time.Second) / float64(g.every))
	}
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(g.every) * float64(time.Second))
}

// wrong counts a wrong token from address.
func (g *guesses) wrong(address string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.by[address]
	if !ok {
		if len(g.by) >= maxGuessers {
			g.prune(now)
		}
		l = rate.NewLimiter(g.every, g.tries)
		g.by[address] = l
	}
	l.AllowN(now, 1)
}

// prune forgets the addresses whose tries are all back. g.mu must be held.
func (g *guesses) prune(now time.Time) {
	for address, l := range g.by {
		if l.TokensAt(now) >= float64(g.tries) {
			delete(g.by, address)
		}
	}
}

// logRequests logs every call with its outcome: reads at debug level, as the admin page polls
// every few seconds, and changes at info, with the action and its target when it was one.
func (a *api) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := a.Now()
		err := next(c)
		status := c.Response().Status
		if he, ok := errors.AsType[*echo.HTTPError](err); ok {
			status = he.Code
		} else if err != nil {
			status = http.StatusInternalServerError
		}
		req := c.Request()
		level := slog.LevelInfo
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			level = slog.LevelDebug
		}
		attrs := []any{"method", req.Method, "path", req.URL.Path, "status", status}
		if c.Get(operatorKey) != nil {
			// Only an operator is named. Anyone else is a stranger, whose address the log must
			// not keep (docs/privacy.md) and whose "operator" name is theirs to make up.
			attrs = append(attrs, "operator", req.Header.Get(OperatorHeader), "address", c.RealIP())
		}
		attrs = append(attrs, "duration", a.Now().Sub(start))
		if action, ok := c.Get(actionKey).(string); ok {
			attrs = append(attrs, "action", action, "target", c.Get(targetKey))
		}
		a.Log.Log(req.Context(), level, "admin request", attrs...)
		return err
	}
}

// Keys of the echo.Context values that the log line of a request reads: whether it came with
// the admin token, and what change leaves of what a call changes.
const (
	operatorKey = "duet.operator"
	actionKey   = "duet.action"
	targetKey   = "duet.target"
)

// change carries out a call that changes something, described by entry's action, target,
// reason and optional private note: it checks who makes it and why, trimming the reason and the
// note and setting the operator in entry (do reads them from there), runs do, and writes the
// audit entry when do succeeded.
func (a *api) change(c echo.Context, entry *moderation.Entry, do func() error) error {
	if n := utf8.RuneCountInString(operator(c)); n == 0 || n > maxOperatorLen {
		return echo.NewHTTPError(http.StatusBadRequest, "the "+OperatorHeader+" header must name you, in 1 to 60 characters")
	}
	entry.Reason, entry.Note = strings.TrimSpace(entry.Reason), strings.TrimSpace(entry.Note)
	if n := utf8.RuneCountInString(entry.Reason); n == 0 || n > maxReasonLen {
		return echo.NewHTTPError(http.StatusBadRequest, "reason must be 1 to 500 characters")
	}
	if utf8.RuneCountInString(entry.Note) > maxReasonLen {
		return echo.NewHTTPError(http.StatusBadRequest, "note must be at most 500 characters")
	}
	entry.Operator = operator(c)
	c.Set(actionKey, entry.Action)
	c.Set(targetKey, entry.Target)
	if err := do(); err != nil {
		return httpError(err)
	}
	return a.record(c, *entry)
}

// operator is the name the operator making a call gave.
func operator(c echo.Context) string {
	return strings.TrimSpace(c.Request().Header.Get(OperatorHeader))
}

// record writes an entry of what a call did to the audit log, by the operator making it.
func (a *api) record(c echo.Context, entry moderation.Entry) error {
	entry.At, entry.Operator, entry.Address = a.Now(), operator(c), c.RealIP()
	if err := a.Moderation.AddAudit(c.Request().Context(), entry); err != nil {
		// The action is done; say so, and that its record is missing.
		a.Log.Error("writing the audit log", "entry", entry, "err", err)
		return echo.NewHTTPError(http.StatusInternalServerError, "done, but the audit log could not be written")
	}
	return nil
}

// httpError maps a service error to an HTTP error with a message safe to show.
func httpError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*echo.HTTPError](err); ok {
		return err
	}
	if errors.Is(err, session.ErrResolved) || errors.Is(err, session.ErrUnknownAddress) {
		return echo.NewHTTPError(http.StatusConflict, duet.ErrorMessage(err))
	}
	status := http.StatusInternalServerError
	switch duet.ErrorCode(err) {
	case duet.ParamErr:
		status = http.StatusBadRequest
	case duet.NoDataFound:
		status = http.StatusNotFound
	case duet.SessionEnded:
		status = http.StatusConflict
	case duet.InternalErr:
		return err // logged by the error handler, shown as an internal error
	}
	return echo.NewHTTPError(status, duet.ErrorMessage(err))
}

// maxBody is the largest request body read, in bytes.
const maxBody = 64 << 10

// bind decodes the JSON body into v, refusing unknown fields, trailing data and large bodies.
func bind(c echo.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be one JSON object with the documented fields: "+jsonProblem(err))
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be one JSON object")
	}
	return nil
}

// jsonProblem says what was wrong with a body, without echoing it.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return typeErr.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "it is not valid JSON"
}
