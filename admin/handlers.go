package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// idParam reads a positive id from the path.
func idParam(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusBadRequest, name+" must be a positive integer")
	}
	return id, nil
}

func (a *api) bans(c echo.Context) error {
	bans, err := a.Moderation.Bans(c.Request().Context(), a.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"bans": bans})
}

// banBody asks for a ban. An address or network ban names its hash, or an account whose
// address or network it takes.
type banBody struct {
	Kind      moderation.Kind `json:"kind"`
	AccountID int64           `json:"accountId"`
	Value     string          `json:"value"`
	Duration  string          `json:"duration"`
	Reason    string          `json:"reason"` // public: the banned client is told it
	Note      string          `json:"note"`   // private: for operators only
}

// maxBan is the longest ban: bans end, so that a mistake does too.
const maxBan = 10 * 365 * 24 * time.Hour

func (a *api) ban(c echo.Context) error {
	var body banBody
	if err := bind(c, &body); err != nil {
		return err
	}
	d, err := parseBanDuration(body.Duration)
	if err != nil {
		return err
	}
	target, err := a.target(c, body)
	if err != nil {
		return err
	}
	var ban moderation.Ban
	entry := moderation.Entry{Action: "ban", Target: target.String(), Reason: body.Reason, Note: body.Note}
	err = a.change(c, &entry, func() (err error) {
		ban, err = a.Service.Ban(c.Request().Context(), target, entry.Reason, entry.Note, operator(c), d)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ban)
}

// banImpact counts the connected accounts a ban would cut off, before it is made: the query
// names the ban as a ban request's body does (kind, and accountId or value). An address or
// network is matched against the address each account was created from.
func (a *api) banImpact(c echo.Context) error {
	body := banBody{Kind: moderation.Kind(c.QueryParam("kind")), Value: c.QueryParam("value")}
	if q := c.QueryParam("accountId"); q != "" {
		id, err := strconv.ParseInt(q, 10, 64)
		if err != nil || id <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "accountId must be an account id")
		}
		body.AccountID = id
	}
	target, err := a.target(c, body)
	if err != nil {
		return err
	}
	_, n, err := a.Store.FindAccounts(c.Request().Context(), func(acct session.Account) bool {
		return acct.Connected && targets(target, acct)
	}, 0)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"target": target, "connectedAccounts": n})
}

// targets reports whether ban target t applies to account acct.
func targets(t moderation.Target, acct session.Account) bool {
	return slices.Contains(moderation.Targets(acct.ID, acct.Client), t)
}

// parseBanDuration reads how long a ban lasts.
func parseBanDuration(text string) (time.Duration, error) {
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 || d > maxBan {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "duration must be a positive duration like 30m or 72h, at most 87600h")
	}
	return d, nil
}

// target is what a ban request names: a hash given as is, or the account given, or the address
// or network it came from.
func (a *api) target(c echo.Context, body banBody) (moderation.Target, error) {
	if body.AccountID < 0 || (body.AccountID == 0) == (body.Value == "") {
		return moderation.Target{}, echo.NewHTTPError(http.StatusBadRequest, "name exactly one of accountId and value")
	}
	if body.Value != "" {
		t := moderation.Target{Kind: body.Kind, Value: body.Value}
		return t, httpError(t.Validate())
	}
	acct, err := a.Store.Account(c.Request().Context(), body.AccountID)
	if err != nil {
		return moderation.Target{}, httpError(err)
	}
	t, err := session.BanTarget(body.Kind, acct.ID, acct.Client)
	return t, httpError(err)
}

// idAndReason reads the path's id and a body that gives a reason and, optionally, a private
// note.
func idAndReason(c echo.Context) (int64, string, string, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return 0, "", "", err
	}
	var body struct {
		Reason string `json:"reason"`
		Note   string `json:"note"`
	}
	err = bind(c, &body)
	return id, body.Reason, body.Note, err
}

func (a *api) liftBan(c echo.Context) error {
	id, reason, note, err := idAndReason(c)
	if err != nil {
		return err
	}
	var ban moderation.Ban
	err = a.change(c, &moderation.Entry{Action: "lift-ban", Target: strconv.FormatInt(id, 10), Reason: reason, Note: note}, func() (err error) {
		ban, err = a.Service.LiftBan(c.Request().Context(), id)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ban)
}

// accountView is what an operator sees of an account: never its token.
type accountView struct {
	ID        int64             `json:"accountId"`
	Nickname  string            `json:"nickName"`
	CreatedAt time.Time         `json:"createdAt"`
	LastSeen  time.Time         `json:"lastSeen"`
	Away      bool              `json:"away"`
	Connected bool              `json:"connected"`
	Node      *int64            `json:"node,omitempty"` // the node holding its connection
	Client    moderation.Client `json:"client"`
	Sessions  []sessionView     `json:"sessions"`
}

type sessionView struct {
	ID              int64        `json:"sessionId"`
	Members         []memberView `json:"members"`
	CommonInterests []string     `json:"commonInterests"`
	StartedAt       time.Time    `json:"startedAt"`
	EndedAt         *time.Time   `json:"endedAt,omitempty"`
	EndReason       string       `json:"endReason,omitempty"`
	LastMsgID       int64        `json:"lastMsgId"`
}

type memberView struct {
	AccountID int64  `json:"accountId"`
	Nickname  string `json:"nickName"`
}

func viewSession(s session.Session) sessionView {
	v := sessionView{
		ID: s.ID, CommonInterests: s.CommonInterests, StartedAt: s.StartedAt,
		EndReason: s.EndReason, LastMsgID: s.LastMsgID,
	}
	for _, m := range s.Members {
		v.Members = append(v.Members, memberView{AccountID: m.ID, Nickname: m.Nickname})
	}
	if !s.Live() {
		v.EndedAt = &s.EndedAt
	}
	return v
}

func viewSessions(ss []session.Session) []sessionView {
	views := make([]sessionView, len(ss)) // never null in JSON
	for i, s := range ss {
		views[i] = viewSession(s)
	}
	return views
}

// accountSummary is an account as a look-up lists it.
type accountSummary struct {
	ID        int64     `json:"accountId"`
	Nickname  string    `json:"nickName"`
	CreatedAt time.Time `json:"createdAt"`
	LastSeen  time.Time `json:"lastSeen"`
	Away      bool      `json:"away"`
	Connected bool      `json:"connected"`
}

// The longest nickname looked up, in characters, and the most accounts a look-up lists.
const (
	maxNicknameQuery = 200
	maxFound         = 200
)

// findAccounts looks accounts up by ?nickname=, which a nickname must contain, whatever the case
// of its letters: the last seen first, up to ?limit=, and how many were found in all.
func (a *api) findAccounts(c echo.Context) error {
	nickname := strings.ToLower(strings.TrimSpace(c.QueryParam("nickname")))
	if n := utf8.RuneCountInString(nickname); n == 0 || n > maxNicknameQuery {
		return echo.NewHTTPError(http.StatusBadRequest, "nickname must be 1 to 200 characters")
	}
	limit, err := limitParam(c, 50, maxFound)
	if err != nil {
		return err
	}
	found, n, err := a.Store.FindAccounts(c.Request().Context(), func(acct session.Account) bool {
		return strings.Contains(strings.ToLower(acct.Nickname), nickname)
	}, limit)
	if err != nil {
		return err
	}
	views := make([]accountSummary, len(found))
	for i, acct := range found {
		views[i] = accountSummary{ID: acct.ID, Nickname: acct.Nickname, CreatedAt: acct.CreatedAt, LastSeen: acct.LastSeen, Away: acct.Away, Connected: acct.Connected}
	}
	return c.JSON(http.StatusOK, map[string]any{"accounts": views, "found": n})
}

func (a *api) account(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acct, err := a.Store.Account(ctx, id)
	if err != nil {
		return httpError(err)
	}
	live, err := a.Store.LiveSessions(ctx, id)
	if err != nil {
		return err
	}
	v := accountView{
		ID: acct.ID, Nickname: acct.Nickname, CreatedAt: acct.CreatedAt, LastSeen: acct.LastSeen, Away: acct.Away,
		Connected: acct.Connected, Client: acct.Client, Sessions: viewSessions(live),
	}
	if acct.Connected {
		v.Node = &acct.Node
	}
	return c.JSON(http.StatusOK, v)
}

func (a *api) kick(c echo.Context) error {
	id, reason, note, err := idAndReason(c)
	if err != nil {
		return err
	}
	// The reason is public: the kicked client is told it. The note stays in the audit log.
	entry := moderation.Entry{Action: "kick", Target: moderation.AccountTarget(id).String(), Reason: reason, Note: note}
	err = a.change(c, &entry, func() error {
		return a.Service.Kick(c.Request().Context(), id, entry.Reason)
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// sessions lists the live sessions of the account named by ?account=, or else the newest live
// sessions (up to ?limit=) and how many are live.
func (a *api) sessions(c echo.Context) error {
	ctx := c.Request().Context()
	if q := c.QueryParam("account"); q != "" {
		id, err := strconv.ParseInt(q, 10, 64)
		if err != nil || id <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "account must be an account id")
		}
		live, err := a.Store.LiveSessions(ctx, id)
		if err != nil {
			return httpError(err)
		}
		return c.JSON(http.StatusOK, map[string]any{"sessions": viewSessions(live), "live": len(live)})
	}
	limit, err := limitParam(c, 100, maxListLimit)
	if err != nil {
		return err
	}
	live, n, err := a.Store.AllLive(ctx, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": viewSessions(live), "live": n})
}

func (a *api) session(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	s, err := a.Store.Session(c.Request().Context(), id)
	if err != nil {
		return httpError(err)
	}
	return c.JSON(http.StatusOK, viewSession(s))
}

func (a *api) endSession(c echo.Context) error {
	id, reason, note, err := idAndReason(c)
	if err != nil {
		return err
	}
	err = a.change(c, &moderation.Entry{Action: "end-session", Target: "session:" + strconv.FormatInt(id, 10), Reason: reason, Note: note}, func() error {
		return a.Service.Remove(c.Request().Context(), id)
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type waiterView struct {
	AccountID int64    `json:"accountId"`
	Nickname  string   `json:"nickName"`
	Interests []string `json:"interests"`
	WaitingMs int64    `json:"waitingMs"`
}

func (a *api) queue(c echo.Context) error {
	ws, err := a.Queue.Waiting(c.Request().Context())
	if err != nil {
		return err
	}
	now := a.Now()
	views := make([]waiterView, len(ws))
	for i, w := range ws {
		views[i] = waiterView{AccountID: w.AccountID, Nickname: w.Nickname, Interests: w.Interests, WaitingMs: now.Sub(w.Since).Milliseconds()}
		if views[i].Interests == nil {
			views[i].Interests = []string{}
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"waiting": views})
}

// broadcastBody sends a notice, current for a duration or until a time (RFC 3339); neither:
// for defaultNotice.
type broadcastBody struct {
	Text     string `json:"text"`
	Level    string `json:"level"`
	Duration string `json:"duration"`
	Until    string `json:"until"`
}

// defaultNotice is how long a notice stays current when the operator does not say.
const defaultNotice = time.Hour

func (a *api) broadcast(c echo.Context) error {
	var body broadcastBody
	if err := bind(c, &body); err != nil {
		return err
	}
	until, err := noticeEnd(body, a.Now())
	if err != nil {
		return err
	}
	err = a.change(c, &moderation.Entry{Action: "broadcast", Target: "everyone", Reason: body.Text}, func() error {
		_, err := a.Service.Notice(c.Request().Context(), body.Text, body.Level, until)
		return err
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// noticeEnd reads when a notice stops being current.
func noticeEnd(body broadcastBody, now time.Time) (time.Time, error) {
	switch {
	case body.Duration != "" && body.Until != "":
		return time.Time{}, echo.NewHTTPError(http.StatusBadRequest, "give duration or until, not both")
	case body.Until != "":
		until, err := time.Parse(time.RFC3339, body.Until)
		if err != nil {
			return time.Time{}, echo.NewHTTPError(http.StatusBadRequest, "until must be a time like 2026-12-05T22:00:00Z")
		}
		return until, nil
	case body.Duration != "":
		d, err := time.ParseDuration(body.Duration)
		if err != nil || d <= 0 || d > session.MaxNotice {
			return time.Time{}, echo.NewHTTPError(http.StatusBadRequest, "duration must be a positive duration like 30m or 2h, at most 168h")
		}
		return now.Add(d), nil
	}
	return now.Add(defaultNotice), nil
}

type settingsBody struct {
	MatchingPaused *bool  `json:"matchingPaused"`
	Reason         string `json:"reason,omitempty"`
}

func (a *api) settings(c echo.Context) error {
	paused, err := a.Moderation.MatchingPaused(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsBody{MatchingPaused: &paused})
}

func (a *api) changeSettings(c echo.Context) error {
	var body settingsBody
	if err := bind(c, &body); err != nil {
		return err
	}
	if body.MatchingPaused == nil {
		return echo.NewHTTPError(http.StatusBadRequest, "matchingPaused must be true or false")
	}
	action := "resume-matching"
	if *body.MatchingPaused {
		action = "pause-matching"
	}
	err := a.change(c, &moderation.Entry{Action: action, Target: "matching", Reason: body.Reason}, func() error {
		return a.Service.PauseMatching(c.Request().Context(), *body.MatchingPaused)
	})
	if err != nil {
		return err
	}
	body.Reason = ""
	return c.JSON(http.StatusOK, body)
}

func (a *api) audit(c echo.Context) error {
	limit, err := limitParam(c, 100, maxListLimit)
	if err != nil {
		return err
	}
	entries, err := a.Moderation.Audit(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": entries})
}
