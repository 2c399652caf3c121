package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

const testToken = "the-right-admin-token"

// guarded is an app with one endpoint behind the admin token, and its clock.
func guarded(t *testing.T) (*echo.Echo, *time.Time) {
	t.Helper()
	clock := time.Unix(1_700_000_000, 0)
	a := &api{
		Options: Options{Token: testToken, Now: func() time.Time { return clock }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		guesses: newGuesses(0.2, 5), // 5 tries, then one per 5s
	}
	e := echo.New()
	e.GET("/secret", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, a.authenticate)
	return e, &clock
}

func try(e *echo.Echo, address, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/secret", nil)
	req.RemoteAddr = address + ":40000"
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// TestWrongTokensLimited: an address gets 5 wrong tokens, then 429 with Retry-After whatever
// it sends, and one more try every 5 s; other addresses are not affected.
func TestWrongTokensLimited(t *testing.T) {
	e, clock := guarded(t)
	for i := range 5 {
		if got := try(e, "198.51.100.7", "guess").Code; got != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, got)
		}
	}
	for _, token := range []string{"guess", testToken} {
		rec := try(e, "198.51.100.7", token)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "5" {
			t.Errorf("after 5 wrong tokens, token %q: %d Retry-After %q, want 429 Retry-After 5", token, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	if got := try(e, "203.0.113.9", testToken).Code; got != http.StatusOK {
		t.Errorf("another address with the right token: %d, want 200", got)
	}

	*clock = clock.Add(2 * time.Second)
	if rec := try(e, "198.51.100.7", "guess"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3" {
		t.Errorf("2s later: %d Retry-After %q, want 429 Retry-After 3", rec.Code, rec.Header().Get("Retry-After"))
	}
	*clock = clock.Add(3 * time.Second)
	if got := try(e, "198.51.100.7", "guess").Code; got != http.StatusUnauthorized {
		t.Errorf("5s later, a wrong token: %d, want 401 (one more try)", got)
	}
	if got := try(e, "198.51.100.7", testToken).Code; got != http.StatusTooManyRequests {
		t.Errorf("right after that try: %d, want 429", got)
	}
	*clock = clock.Add(5 * time.Second)
	if got := try(e, "198.51.100.7", testToken).Code; got != http.StatusOK {
		t.Errorf("5s later, the right token: %d, want 200", got)
	}
}

// TestGuessersBounded: wrong tokens from very many addresses keep a bounded table; addresses
// whose tries are back are forgotten to make room.
func TestGuessersBounded(t *testing.T) {
	g := newGuesses(0.2, 5)
	now := time.Unix(1_700_000_000, 0)
	for i := range maxGuessers {
		g.wrong(string(rune(i)), now)
	}
	if g.wait("new", now) == 0 {
		t.Error("a new address was let in with the table full of fresh guessers")
	}
	later := now.Add(time.Minute) // every guesser has its tries back
	if g.wait("new", later) != 0 || len(g.by) != 0 {
		t.Errorf("a minute later: wait %v, %d addresses kept, want the table pruned", g.wait("new", later), len(g.by))
	}
}
