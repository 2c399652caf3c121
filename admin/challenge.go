package admin

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/moderation"
)

// challengeView is the proof-of-work gate as the admin API shows it: what it decides now, and
// the service's challenges over the last minute.
type challengeView struct {
	challenge.State
	LastMinute metrics.Challenges `json:"lastMinute"`
}

func (a *api) challenge(c echo.Context) error {
	nodes, err := a.Board.Nodes(c.Request().Context(), a.Now())
	if err != nil {
		return err
	}
	v := challengeView{State: a.Challenges.State()}
	for _, n := range nodes {
		v.LastMinute = v.LastMinute.Add(n.ChallengesPerMinute)
	}
	return c.JSON(http.StatusOK, v)
}

type challengeBody struct {
	Mode   string `json:"mode"`
	Reason string `json:"reason"`
}

func (a *api) changeChallenge(c echo.Context) error {
	var body challengeBody
	if err := bind(c, &body); err != nil {
		return err
	}
	mode, err := challenge.ParseMode(body.Mode)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "mode must be off, on or auto")
	}
	entry := &moderation.Entry{Action: "challenge-mode", Target: "challenge:" + string(mode), Reason: body.Reason}
	if err := a.change(c, entry, func() error { return a.Challenges.SetMode(c.Request().Context(), mode) }); err != nil {
		return err
	}
	return a.challenge(c)
}
