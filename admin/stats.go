package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/duetchat/duet/metrics"
)

// statsView is the whole service at a glance.
type statsView struct {
	AccountsOnline    int         `json:"accountsOnline"`
	Connections       int         `json:"connections"`
	Waiting           int         `json:"waiting"`
	LiveSessions      int         `json:"liveSessions"`
	MessagesPerMinute int         `json:"messagesPerMinute"`
	MatchesPerMinute  int         `json:"matchesPerMinute"`
	TimeToMatchMs     percentiles `json:"timeToMatchMs"`
	MatchingPaused    bool        `json:"matchingPaused"`
	OpenReports       int         `json:"openReports"`
	Nodes             []nodeView  `json:"nodes"`
}

type percentiles struct {
	P50     int64 `json:"p50"`
	P95     int64 `json:"p95"`
	Samples int   `json:"samples"` // matches of the last five minutes they are taken from
}

// nodeView is one node's figures.
type nodeView struct {
	Node              int64     `json:"node"`
	Version           string    `json:"version"`
	StartedAt         time.Time `json:"startedAt"`
	PostedAt          time.Time `json:"postedAt"`
	Connections       int       `json:"connections"`
	AccountsOnline    int       `json:"accountsOnline"`
	MessagesPerMinute int       `json:"messagesPerMinute"`
	MatchesPerMinute  int       `json:"matchesPerMinute"`
}

func viewNodes(nodes []metrics.Stats) []nodeView {
	views := make([]nodeView, len(nodes))
	for i, n := range nodes {
		views[i] = nodeView{
			Node: n.Node, Version: n.Version, StartedAt: n.StartedAt, PostedAt: n.PostedAt, Connections: n.Connections,
			AccountsOnline: n.Accounts, MessagesPerMinute: n.MessagesPerMinute, MatchesPerMinute: n.MatchesPerMinute,
		}
	}
	return views
}

func (a *api) stats(c echo.Context) error {
	ctx := c.Request().Context()
	nodes, err := a.Board.Nodes(ctx, a.Now())
	if err != nil {
		return err
	}
	waiting, err := a.Queue.Waiting(ctx)
	if err != nil {
		return err
	}
	_, live, err := a.Store.AllLive(ctx, 0)
	if err != nil {
		return err
	}
	paused, err := a.Moderation.MatchingPaused(ctx)
	if err != nil {
		return err
	}
	open, err := a.Service.OpenReports(ctx)
	if err != nil {
		return err
	}
	v := statsView{Waiting: len(waiting), LiveSessions: live, MatchingPaused: paused, OpenReports: open, Nodes: viewNodes(nodes)}
	var waits []int64
	for _, n := range nodes {
		v.AccountsOnline += n.Accounts
		v.Connections += n.Connections
		v.MessagesPerMinute += n.MessagesPerMinute
		v.MatchesPerMinute += n.MatchesPerMinute
		waits = append(waits, n.MatchWaitsMs...)
	}
	v.TimeToMatchMs = percentiles{P50: metrics.Percentile(waits, 50), P95: metrics.Percentile(waits, 95), Samples: len(waits)}
	return c.JSON(http.StatusOK, v)
}

// minuteView is one minute of the service's history.
type minuteView struct {
	At          time.Time `json:"at"`
	Connections int       `json:"connections"`
	Waiting     int       `json:"waiting"`
	Sessions    int       `json:"sessions"`
	Messages    int       `json:"messages"`
	Matches     int       `json:"matches"`
	// Proof-of-work challenges issued, solved and failed.
	ChallengesIssued int `json:"challengesIssued"`
	ChallengesSolved int `json:"challengesSolved"`
	ChallengesFailed int `json:"challengesFailed"`
}

// history answers the service's last hour, minute by minute, from the minutes every node
// recorded on the board; the minutes no node recorded are missing.
func (a *api) history(c echo.Context) error {
	now := a.Now()
	minutes, err := a.Board.History(c.Request().Context(), now)
	if err != nil {
		return err
	}
	views := make([]minuteView, len(minutes))
	for i, m := range minutes {
		views[i] = minuteView{
			At: m.At, Connections: m.Connections, Waiting: m.Waiting, Sessions: m.Sessions, Messages: m.Messages, Matches: m.Matches,
			ChallengesIssued: m.ChallengesIssued, ChallengesSolved: m.ChallengesSolved, ChallengesFailed: m.ChallengesFailed,
		}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"from": metrics.HistoryStart(now).UTC(), "to": metrics.MinuteOf(now).UTC(), "minutes": views,
	})
}

func (a *api) nodes(c echo.Context) error {
	nodes, err := a.Board.Nodes(c.Request().Context(), a.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"nodes": viewNodes(nodes)})
}

// limitParam reads ?limit=, 1 to max, or def when absent.
func limitParam(c echo.Context, def, max int) (int, error) {
	q := c.QueryParam("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(max))
	}
	return n, nil
}
