package metrics

import (
	"slices"
	"time"
)

// HistoryMinutes is how far back the service's history reaches, in minutes: the last hour,
// which the admin page draws.
const HistoryMinutes = 60

// Minute is one minute of figures in the service's history. A node records its own minutes on
// the Board; the Board's History adds the nodes' minutes up into the service's.
type Minute struct {
	At          time.Time `json:"at"`          // the minute's start
	Connections int       `json:"connections"` // open WebSockets, at the node's last post in the minute
	Waiting     int       `json:"waiting"`     // accounts waiting in the whole service, as last seen in the minute
	Sessions    int       `json:"sessions"`    // live sessions in the whole service, as last seen in the minute
	Messages    int       `json:"messages"`    // DIALOGUE messages accepted in the minute
	Matches     int       `json:"matches"`     // sessions started in the minute
	// Challenges issued, solved and failed in the minute.
	ChallengesIssued int       `json:"challengesIssued"`
	ChallengesSolved int       `json:"challengesSolved"`
	ChallengesFailed int       `json:"challengesFailed"`
	PostedAt         time.Time `json:"postedAt"` // when the node last recorded the minute
}

// MinuteOf returns the start of the minute t is in.
func MinuteOf(t time.Time) time.Time { return t.Truncate(time.Minute) }

// HistoryStart returns the first minute of the history as it stands at now.
func HistoryStart(now time.Time) time.Time {
	return MinuteOf(now).Add(-(HistoryMinutes - 1) * time.Minute)
}

// AddUp turns the nodes' records of some minutes into the service's minutes, oldest first: the
// connections, messages and matches of the nodes are summed, and the service-wide waiting and
// sessions are taken from the node that recorded the minute last.
func AddUp(records []Minute) []Minute {
	byMinute := make(map[time.Time]*Minute)
	var last = make(map[time.Time]time.Time)
	for _, r := range records {
		at := r.At.UTC()
		m, ok := byMinute[at]
		if !ok {
			m = &Minute{At: at}
			byMinute[at] = m
		}
		m.Connections += r.Connections
		m.Messages += r.Messages
		m.Matches += r.Matches
		m.ChallengesIssued += r.ChallengesIssued
		m.ChallengesSolved += r.ChallengesSolved
		m.ChallengesFailed += r.ChallengesFailed
		if !r.PostedAt.Before(last[at]) {
			last[at], m.Waiting, m.Sessions, m.PostedAt = r.PostedAt, r.Waiting, r.Sessions, r.PostedAt
		}
	}
	minutes := make([]Minute, 0, len(byMinute))
	for _, m := range byMinute {
		minutes = append(minutes, *m)
	}
	slices.SortFunc(minutes, func(a, b Minute) int { return a.At.Compare(b.At) })
	return minutes
}

// minuteCounts counts a node's messages, matches and challenges in one minute.
type minuteCounts struct {
	minute     int64 // Unix minute
	messages   int
	matches    int
	challenges [3]int // by outcome, in challengeOutcomes' order
}

// setOn sets the counts of m from c.
func (c minuteCounts) setOn(m *Minute) {
	m.Messages, m.Matches = c.messages, c.matches
	m.ChallengesIssued, m.ChallengesSolved, m.ChallengesFailed = c.challenges[0], c.challenges[1], c.challenges[2]
}

// perMinute keeps a node's counts of the current and the previous minute, so that the
// previous minute's final counts can be recorded once it is over.
type perMinute struct {
	cur, prev minuteCounts
}

func unixMinute(t time.Time) int64 { return t.Unix() / 60 }

// at returns the counts of the minute t is in, moving on to that minute if it is new.
func (p *perMinute) at(t time.Time) *minuteCounts {
	m := unixMinute(t)
	if m > p.cur.minute {
		if m == p.cur.minute+1 {
			p.prev = p.cur
		} else {
			p.prev = minuteCounts{minute: m - 1}
		}
		p.cur = minuteCounts{minute: m}
	}
	if m == p.prev.minute {
		return &p.prev
	}
	return &p.cur
}

// of returns the counts of minute m (Unix minute), zero if it is neither kept minute.
func (p *perMinute) of(m int64) minuteCounts {
	switch m {
	case p.cur.minute:
		return p.cur
	case p.prev.minute:
		return p.prev
	}
	return minuteCounts{minute: m}
}
