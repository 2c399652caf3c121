package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

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
	ReporterClient moderation.Client `json:"reporterClient"`
	Category       string            `json:"category"`
	Note           string            `json:"note"`
	CreatedAt      time.Time         `json:"createdAt"`
	UpdatedAt      time.Time         `json:"updatedAt"`
	Filings        int               `json:"filings"`
	Status         string            `json:"status"`
	Resolution     *resolutionView   `json:"resolution,omitempty"`
	Priority       int               `json:"priority"`
	OtherSide      int64             `json:"otherSideReportId,omitempty"` // the other member's report on the session
	Evidence       []session.Message `json:"evidence,omitempty"`          // on the one-report endpoint only
}

type resolutionView struct {
	Operator string    `json:"operator"`
	Note     string    `json:"note"`
	At       time.Time `json:"at"`
	BanID    int64     `json:"banId,omitempty"`
}

func viewReport(r session.RankedReport) reportView {
	v := reportView{
		ID: r.ID, SessionID: r.SessionID, Reporter: r.Reporter, ReporterNick: r.ReporterNick, Reported: r.Reported,
		ReportedNick: r.ReportedNick, ReportedClient: r.ReportedClient, ReporterClient: r.ReporterClient,
		Category: r.Category, Note: r.Note, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Filings: r.Filings,
		Status: r.Status, Priority: r.Priority, OtherSide: r.OtherSide,
	}
	if r.Resolution != nil {
		v.Resolution = &resolutionView{Operator: r.Resolution.Operator, Note: r.Resolution.Note, At: r.Resolution.At, BanID: r.Resolution.BanID}
	}
	return v
}

// defaultReportPage is how many reports a page holds unless ?limit= says.
const defaultReportPage = 100

// reports lists a page of the reports kept (?offset=, ?limit=), optionally only those of one
// ?status= and ?category=, the highest priority first and then the newest; with
// ?group=session, the two sides of a session next to each other. Never with evidence.
func (a *api) reports(c echo.Context) error {
	limit, err := limitParam(c, defaultReportPage, maxListLimit)
	if err != nil {
		return err
	}
	q := session.ReportQuery{Status: c.QueryParam("status"), Category: c.QueryParam("category"), Limit: limit}
	if o := c.QueryParam("offset"); o != "" {
		if q.Offset, err = strconv.Atoi(o); err != nil || q.Offset < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "offset must be 0 or more")
		}
	}
	switch c.QueryParam("group") {
	case "":
	case "session":
		q.BySession = true
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "group must be session")
	}
	page, err := a.Service.Reports(c.Request().Context(), q)
	if err != nil {
		return httpError(err)
	}
	views := make([]reportView, len(page.Reports))
	for i, r := range page.Reports {
		views[i] = viewReport(r)
	}
	answer := reportPage{Reports: views, Total: page.Total, Open: page.Open}
	if page.NextOffset > 0 {
		answer.NextOffset = &page.NextOffset
	}
	return c.JSON(http.StatusOK, answer)
}

// reportPage is a page of reports.
type reportPage struct {
	Reports    []reportView `json:"reports"`
	Total      int          `json:"total"`                // reports that match the filters
	Open       int          `json:"open"`                 // open reports, of any category
	NextOffset *int         `json:"nextOffset,omitempty"` // the next page's offset; absent on the last
}

func (a *api) report(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := a.Service.ReviewReport(c.Request().Context(), id)
	if err != nil {
		return httpError(err)
	}
	v := viewReport(r)
	v.Evidence = r.Evidence
	if v.Evidence == nil {
		v.Evidence = []session.Message{}
	}
	return c.JSON(http.StatusOK, v)
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

// resolveReport decides a report. The audit log gets a resolve-report entry that names the
// report and the ban it led to, if any, and then that ban's own ban entry.
func (a *api) resolveReport(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var body resolveBody
	if err := bind(c, &body); err != nil {
		return err
	}
	if body.Decision != "accept" && body.Decision != "reject" {
		return echo.NewHTTPError(http.StatusBadRequest, "decision must be accept or reject")
	}
	d := session.ReportDecision{Accept: body.Decision == "accept"}
	if body.Ban != nil {
		d.Ban = &session.ReportBan{Kind: body.Ban.Kind, Reason: strings.TrimSpace(body.Ban.Reason)}
		if d.Ban.For, err = parseBanDuration(body.Ban.Duration); err != nil {
			return err
		}
	}
	var resolved session.Report
	var ban *moderation.Ban
	report := "report:" + strconv.FormatInt(id, 10)
	entry := moderation.Entry{Action: "resolve-report", Target: report, Reason: body.Note}
	err = a.change(c, &entry, func() (err error) {
		d.Operator, d.Note = operator(c), entry.Reason
		if resolved, ban, err = a.Service.ResolveReport(c.Request().Context(), id, d); err != nil {
			return err
		}
		entry.Note = resolved.Status
		if ban != nil {
			entry.Note += ", ban:" + strconv.FormatInt(ban.ID, 10) + " on " + ban.Target.String()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ban != nil {
		err := a.record(c, moderation.Entry{Action: "ban", Target: ban.Target.String(), Reason: ban.Reason, Note: report + ", ban:" + strconv.FormatInt(ban.ID, 10)})
		if err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, viewReport(session.RankedReport{Report: resolved}))
}
