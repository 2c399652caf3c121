package session

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
)

// EvidenceLimits bound what a report keeps of its session: its last Messages messages, as many
// of them as fit in Bytes bytes of text, and at least the last one.
type EvidenceLimits struct {
	Messages int
	Bytes    int
}

// bound returns the newest messages of history (oldest first) within the limits, oldest first.
func (l EvidenceLimits) bound(history []Message) []Message {
	start, size := len(history), 0
	for start > 0 && len(history)-start < l.Messages {
		size += len(history[start-1].Content)
		if size > l.Bytes && start < len(history) {
			break
		}
		start--
	}
	return history[start:]
}

// errTooLateToReport refuses a report on a session whose messages are no longer kept. The store
// cannot tell a session it forgot from one that never was, and neither can be reported.
var errTooLateToReport = duet.Errorf(duet.SessionEnded, "this chat ended too long ago to be reported: its messages are no longer kept")

func tooLate(err error) error {
	if errors.Is(err, ErrNoSession) {
		return errTooLateToReport
	}
	return err
}

// Report files a complaint about the partner with the server's copy of the conversation's last
// messages as evidence, ends the session if it is live, and keeps the two apart for good. Either
// member may report while the session is live and as long as its messages are kept after it
// ended, so an abuser who leaves first can still be reported; the end is not repeated then. A
// member who reports the same session again updates their report (category, note, time), which
// keeps its id; the evidence is kept once per session.
func (s *Service) Report(ctx context.Context, id, sessionID int64, category, note string) (int64, error) {
	if !reportCategories[category] {
		return 0, duet.Errorf(duet.ParamErr, "category must be one of spam, sexual, minor, harassment, scam, other")
	}
	if utf8.RuneCountInString(note) > maxNoteLen {
		return 0, duet.Errorf(duet.ParamErr, "note must be at most %d characters", maxNoteLen)
	}
	sess, err := s.member(ctx, id, sessionID)
	if err != nil {
		return 0, tooLate(err)
	}
	partner, _ := sess.Partner(id)
	history, _, err := s.store.Messages(ctx, sessionID, 0)
	if err != nil {
		return 0, tooLate(err) // it may have gone just now
	}
	me, _ := sess.Partner(partner.ID)
	now := s.now()
	r, err := s.reports.FileReport(ctx, Report{
		ID: s.ids.Next(), SessionID: sessionID, Reporter: id, Reported: partner.ID, ReporterNick: me.Nickname, ReportedNick: partner.Nickname,
		ReporterClient: me.Client, ReportedClient: partner.Client, Category: category, Note: note,
		CreatedAt: now, UpdatedAt: now, Filings: 1, Status: ReportOpen,
	}, s.opt.Evidence.bound(history))
	if err != nil {
		return 0, err
	}
	if err := s.queue.Block(ctx, id, partner.ID); err != nil {
		return 0, err
	}
	if sess.Live() {
		// Should the session end meanwhile by other means, End finds it ended and tells nobody.
		if _, err := s.End(ctx, sessionID, id, ReasonLeft); err != nil {
			return 0, err
		}
	}
	return r.ID, nil
}

// RankedReport is a report as operators review it: with its priority and the report the other
// member of its session filed, if any (an abuser may report their victim first).
type RankedReport struct {
	Report
	// Priority is how many distinct addresses reported the same client (by its account or its
	// address) among the reports kept: one person's complaints weigh one however many accounts
	// they make, several people's weigh more.
	Priority  int
	OtherSide int64 // the id of the other member's report on the same session; 0: none
}

// ReportQuery selects a page of reports.
type ReportQuery struct {
	Status    string // one status, or "" for all
	Category  string // one category, or "" for all
	BySession bool   // the reports of one session next to each other, and on one page
	Offset    int    // how many to skip
	Limit     int    // how many at most (a page may hold one more, to keep a session whole)
}

// ReportPage is one page of reports, without evidence.
type ReportPage struct {
	Reports    []RankedReport
	Total      int // reports that match the query
	Open       int // open reports kept, of any category
	NextOffset int // where the next page starts; 0: this is the last
}

// reportStatuses are the states a report may be listed by.
var reportStatuses = []string{ReportOpen, ReportAccepted, ReportRejected}

// Reports returns the page q asks for of the reports kept, the highest priority first, then the
// newest; with q.BySession, a report is followed by the other member's report on its session.
func (s *Service) Reports(ctx context.Context, q ReportQuery) (ReportPage, error) {
	if q.Status != "" && !slices.Contains(reportStatuses, q.Status) {
		return ReportPage{}, duet.Errorf(duet.ParamErr, "status must be open, accepted or rejected")
	}
	all, err := s.reports.Reports(ctx)
	if err != nil {
		return ReportPage{}, err
	}
	ranked := rank(all)
	var page ReportPage
	var matching []RankedReport
	for _, r := range ranked {
		if r.Status == ReportOpen {
			page.Open++
		}
		if (q.Status == "" || r.Status == q.Status) && (q.Category == "" || r.Category == q.Category) {
			matching = append(matching, r)
		}
	}
	slices.SortStableFunc(matching, func(x, y RankedReport) int { return y.Priority - x.Priority })
	if q.BySession {
		matching = bySession(matching)
	}
	page.Total = len(matching)
	start := min(q.Offset, len(matching))
	end := min(start+q.Limit, len(matching))
	if q.BySession && end > start && end < len(matching) && matching[end].SessionID == matching[end-1].SessionID {
		end++
	}
	page.Reports = matching[start:end]
	if end < len(matching) {
		page.NextOffset = end
	}
	return page, nil
}

// OpenReports returns how many open reports are kept.
func (s *Service) OpenReports(ctx context.Context) (int, error) {
	return s.reports.OpenReports(ctx)
}

// ReviewReport returns one report with its evidence, its priority and the other side's report.
func (s *Service) ReviewReport(ctx context.Context, id int64) (RankedReport, error) {
	r, err := s.reports.Report(ctx, id)
	if err != nil {
		return RankedReport{}, err
	}
	all, err := s.reports.Reports(ctx)
	if err != nil {
		return RankedReport{}, err
	}
	for _, k := range rank(all) {
		if k.ID == id {
			k.Evidence = r.Evidence
			return k, nil
		}
	}
	return RankedReport{}, ErrNoReport // it expired between the two reads
}

// rank gives each report its priority and the other side's report.
func rank(reports []Report) []RankedReport {
	reporters := make(map[string]map[string]bool) // reported client → the reporters' addresses
	bySession := make(map[int64][]int64)          // session → its reports
	for _, r := range reports {
		for _, k := range reportedKeys(r) {
			if reporters[k] == nil {
				reporters[k] = make(map[string]bool)
			}
			reporters[k][reporterKey(r)] = true
		}
		bySession[r.SessionID] = append(bySession[r.SessionID], r.ID)
	}
	ranked := make([]RankedReport, len(reports))
	for i, r := range reports {
		ranked[i].Report = r
		for _, k := range reportedKeys(r) {
			ranked[i].Priority = max(ranked[i].Priority, len(reporters[k]))
		}
		for _, other := range bySession[r.SessionID] {
			if other != r.ID {
				ranked[i].OtherSide = other
			}
		}
	}
	return ranked
}

// reportedKeys are the ways a reported client is known: its account, and its address if known.
func reportedKeys(r Report) []string {
	ks := []string{"account:" + strconv.FormatInt(r.Reported, 10)}
	if r.ReportedClient.Addr != "" {
		ks = append(ks, "address:"+r.ReportedClient.Addr)
	}
	return ks
}

// reporterKey is who filed a report: their address, or their account when it is not known.
func reporterKey(r Report) string {
	if r.ReporterClient.Addr != "" {
		return "address:" + r.ReporterClient.Addr
	}
	return "account:" + strconv.FormatInt(r.Reporter, 10)
}

// bySession moves each report's other side, if listed, right after the first of the two.
func bySession(reports []RankedReport) []RankedReport {
	grouped := make([]RankedReport, 0, len(reports))
	placed := make(map[int64]bool, len(reports))
	for i, r := range reports {
		if placed[r.ID] {
			continue
		}
		grouped, placed[r.ID] = append(grouped, r), true
		for _, other := range reports[i+1:] {
			if other.SessionID == r.SessionID && !placed[other.ID] {
				grouped, placed[other.ID] = append(grouped, other), true
			}
		}
	}
	return grouped
}

// ReportDecision is an operator's decision on a report.
type ReportDecision struct {
	Accept   bool
	Operator string     // who decides: the resolution and any ban name them
	Note     string     // why: private, kept with the resolution and any ban
	Ban      *ReportBan // with Accept only: a ban of the reported client
}

// ReportBan bans the client a report names.
type ReportBan struct {
	Kind   moderation.Kind
	For    time.Duration
	Reason string // public, told to the banned client; the report's category if empty
}

// maxBanReason is the longest public reason of a ban.
const maxBanReason = 500

// ResolveReport decides an open report: it is accepted, possibly with a ban of the reported
// client by account, address or network, or rejected. It returns the report as now stored and
// the ban it led to, if any. Should another operator decide it at the same moment, theirs stands,
// this call's ban is lifted and it fails with ErrResolved.
func (s *Service) ResolveReport(ctx context.Context, id int64, d ReportDecision) (Report, *moderation.Ban, error) {
	if d.Ban != nil && !d.Accept {
		return Report{}, nil, duet.Errorf(duet.ParamErr, "only an accepted report can lead to a ban")
	}
	r, err := s.reports.Report(ctx, id)
	if err != nil {
		return Report{}, nil, err
	}
	if r.Status != ReportOpen {
		return Report{}, nil, ErrResolved
	}
	status := ReportRejected
	if d.Accept {
		status = ReportAccepted
	}
	res := Resolution{Operator: d.Operator, Note: d.Note, At: s.now()}
	var ban *moderation.Ban
	if d.Ban != nil {
		reason := cmp.Or(d.Ban.Reason, r.Category)
		if utf8.RuneCountInString(reason) > maxBanReason {
			return Report{}, nil, duet.Errorf(duet.ParamErr, "ban.reason must be at most %d characters", maxBanReason)
		}
		target, err := BanTarget(d.Ban.Kind, r.Reported, r.ReportedClient)
		if err != nil {
			return Report{}, nil, err
		}
		b, err := s.Ban(ctx, target, reason, d.Note, d.Operator, d.Ban.For)
		if err != nil {
			return Report{}, nil, err
		}
		ban, res.BanID = &b, b.ID
	}
	resolved, err := s.reports.ResolveReport(ctx, id, status, res)
	if err != nil {
		if ban != nil && errors.Is(err, ErrResolved) {
			if _, lerr := s.LiftBan(ctx, ban.ID); lerr != nil {
				s.log.Error("lifting the ban of a report resolved twice", "ban", ban.ID, "err", lerr)
			}
		}
		return Report{}, nil, err
	}
	return resolved, ban, nil
}

// LiftBan ends a ban now, and returns it as it was.
func (s *Service) LiftBan(ctx context.Context, id int64) (moderation.Ban, error) {
	return s.moderation.LiftBan(ctx, id, s.now())
}

// ErrUnknownAddress refuses a ban by the address or network of a client whose address is not
// known.
var ErrUnknownAddress = duet.Errorf(duet.ParamErr, "this client's address is not known; ban the account instead")

// BanTarget is the ban of kind on account, or on the address or network its client came from.
func BanTarget(kind moderation.Kind, account int64, client moderation.Client) (moderation.Target, error) {
	var t moderation.Target
	switch kind {
	case moderation.KindAccount:
		t = moderation.AccountTarget(account)
	case moderation.KindAddress:
		t = moderation.Target{Kind: kind, Value: client.Addr}
	case moderation.KindNetwork:
		t = moderation.Target{Kind: kind, Value: client.Network}
	default:
		return t, duet.Errorf(duet.ParamErr, "kind must be account, address or network")
	}
	if t.Validate() != nil {
		return t, ErrUnknownAddress
	}
	return t, nil
}
