package admin

import (
	"cmp"
	"errors"
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

// reportView is a report as an operator reviews it.
type reportView struct {
	ID             int64             `json:"reportId"`
	SessionID      int64             `json:"sessionId"`
	Reporter       int64             `json:"reporterId"`
	ReporterNick   string            `json:"reporterNickName"`
	Reported       int64             `json:"reportedId"`
	ReportedNick   string            `json:"reportedNickName"`
	ReportedClient moderation.Client `json:"reportedClient"`
	Category       string            `json:"category"`
	Note           string            `json:"note"`
	CreatedAt      time.Time         `json:"createdAt"`
	Status         string            `json:"status"`
	Resolution     *resolutionView   `json:"resolution,omitempty"`
	Priority       int               `json:"priority"`
	Evidence       []session.Message `json:"evidence,omitempty"`
}

type resolutionView struct {
	Operator string    `json:"operator"`
	Note     string    `json:"note"`
	At       time.Time `json:"at"`
	BanID    int64     `json:"banId,omitempty"`
}

// priorities gives each report the number of distinct accounts that reported the same client,
// by its account or by its address, among the reports kept: one person's complaint weighs one,
// several people's weigh more.
func priorities(reports []session.Report) map[int64]int {
	reporters := make(map[string]map[int64]bool)
	keys := func(r session.Report) []string {
		ks := []string{"account:" + strconv.FormatInt(r.Reported, 10)}
		if r.ReportedClient.Addr != "" {
			ks = append(ks, "address:"+r.ReportedClient.Addr)
		}
		return ks
	}
	for _, r := range reports {
		for _, k := range keys(r) {
			if reporters[k] == nil {
				reporters[k] = make(map[int64]bool)
			}
			reporters[k][r.Reporter] = true
		}
	}
	prio := make(map[int64]int, len(reports))
	for _, r := range reports {
		for _, k := range keys(r) {
			prio[r.ID] = max(prio[r.ID], len(reporters[k]))
		}
	}
	return prio
}

func viewReport(r session.Report, priority int, evidence bool) reportView {
	v := reportView{
		ID: r.ID, SessionID: r.SessionID, Reporter: r.Reporter, ReporterNick: r.ReporterNick, Reported: r.Reported,
		ReportedNick: r.ReportedNick, ReportedClient: r.ReportedClient,
		Category: r.Category, Note: r.Note, CreatedAt: r.CreatedAt, Status: r.Status, Priority: priority,
	}
	if r.Resolution != nil {
		v.Resolution = &resolutionView{Operator: r.Resolution.Operator, Note: r.Resolution.Note, At: r.Resolution.At, BanID: r.Resolution.BanID}
	}
	if evidence {
		v.Evidence = r.Evidence
		if v.Evidence == nil {
			v.Evidence = []session.Message{}
		}
	}
	return v
}

// reports lists the reports kept, optionally only those of one ?status= and ?category=, the
// highest priority first and then the newest.
func (a *api) reports(c echo.Context) error {
	status, category := c.QueryParam("status"), c.QueryParam("category")
	if status != "" && !slices.Contains([]string{session.ReportOpen, session.ReportAccepted, session.ReportRejected}, status) {
		return echo.NewHTTPError(http.StatusBadRequest, "status must be open, accepted or rejected")
	}
	all, err := a.Reports.Reports(c.Request().Context())
	if err != nil {
		return err
	}
	prio := priorities(all)
	views := []reportView{}
	for _, r := range all {
		if (status == "" || r.Status == status) && (category == "" || r.Category == category) {
			views = append(views, viewReport(r, prio[r.ID], false))
		}
	}
	slices.SortStableFunc(views, func(x, y reportView) int { return y.Priority - x.Priority })
	return c.JSON(http.StatusOK, map[string]any{"reports": views})
}

func (a *api) report(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := a.Reports.Report(ctx, id)
	if err != nil {
		return httpError(err)
	}
	all, err := a.Reports.Reports(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewReport(r, priorities(all)[id], true))
}

// resolveBody decides a report: accept (optionally with a ban of the reported client) or reject.
type resolveBody struct {
	Decision string `json:"decision"`
	Note     string `json:"note"`
	Ban      *struct {
		Kind     moderation.Kind `json:"kind"`
		Duration string          `json:"duration"`
		// Reason is the public reason the banned client is told; the report's category if
		// not given. The decision's note stays private, with the ban and the report.
		Reason string `json:"reason"`
	} `json:"ban"`
}

func (a *api) resolveReport(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var body resolveBody
	if err := bind(c, &body); err != nil {
		return err
	}
	status := map[string]string{"accept": session.ReportAccepted, "reject": session.ReportRejected}[body.Decision]
	switch {
	case status == "":
		return echo.NewHTTPError(http.StatusBadRequest, "decision must be accept or reject")
	case body.Ban != nil && status != session.ReportAccepted:
		return echo.NewHTTPError(http.StatusBadRequest, "only an accepted report can lead to a ban")
	}
	ctx := c.Request().Context()
	r, err := a.Reports.Report(ctx, id)
	if err != nil {
		return httpError(err)
	}
	if r.Status != session.ReportOpen {
		return httpError(session.ErrResolved)
	}
	var banTarget moderation.Target
	var banFor time.Duration
	var banReason string
	if body.Ban != nil {
		if banFor, err = parseBanDuration(body.Ban.Duration); err != nil {
			return err
		}
		banReason = cmp.Or(strings.TrimSpace(body.Ban.Reason), r.Category)
		if utf8.RuneCountInString(banReason) > maxReasonLen {
			return echo.NewHTTPError(http.StatusBadRequest, "ban.reason must be at most 500 characters")
		}
		if banTarget, err = clientTarget(body.Ban.Kind, r.Reported, r.ReportedClient); err != nil {
			return err
		}
	}
	var resolved session.Report
	entry := moderation.Entry{Action: "resolve-report", Target: "report:" + strconv.FormatInt(id, 10), Reason: body.Note}
	err = a.change(c, &entry, func() error {
		res := session.Resolution{Operator: c.Request().Header.Get(OperatorHeader), Note: entry.Reason, At: a.Now()}
		if body.Ban != nil {
			ban, err := a.Service.Ban(ctx, banTarget, banReason, entry.Reason, moderation.ByOperator, banFor)
			if err != nil {
				return err
			}
			res.BanID = ban.ID
		}
		resolved, err = a.Reports.ResolveReport(ctx, id, status, res)
		if errors.Is(err, session.ErrResolved) && res.BanID != 0 {
			// Another operator decided first: their decision stands, this ban goes.
			if _, lerr := a.Moderation.LiftBan(ctx, res.BanID, a.Now()); lerr != nil {
				a.Log.Error("lifting the ban of a report resolved twice", "ban", res.BanID, "err", lerr)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewReport(resolved, 0, false))
}
