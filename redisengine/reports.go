package redisengine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// Reports is the session.Reports of many nodes. Every report key shares one hash tag, so that a
// script files a report, makes room for it and drops the expired ones in one step; the reports
// are few and small (their evidence is kept once per session, bounded by the service), so one
// slot holds them.
type Reports struct {
	rdb    redis.UniversalClient
	keys   []string // open, done, data, who, by, ev: in the order the scripts take them
	limits session.ReportLimits
}

// The positions of the report keys in Reports.keys.
const (
	reportsOpen = iota
	reportsDone
	reportsData
	reportsWho
	reportsBy
	reportsEvidence
)

var _ session.Reports = (*Reports)(nil)

// NewReports returns the report store kept under prefix by client, within limits.
func NewReports(client redis.UniversalClient, prefix string, limits session.ReportLimits) *Reports {
	k := keyspace{prefix}
	keys := []string{k.reports("open"), k.reports("done"), k.reports("data"), k.reports("who"), k.reports("by"), k.reports("ev")}
	return &Reports{rdb: client, keys: keys, limits: limits}
}

// fileReportScript drops the reports filed before the cutoff, then returns the id of the
// reporter's report on the session if there is one; else it makes room for a new report
// (dropping the oldest resolved one, or the oldest open one) and keeps it, with the session's
// evidence unless the session has some, and returns nothing. A dropped report takes its
// session's evidence along unless the other member's report on it is still kept.
//
// KEYS: open, done, data, who, by, ev. ARGV: id, filed (Unix ms), report JSON, session, reporter,
// reported, evidence JSON, cutoff (Unix ms), max reports, ttl (ms): until the new report passes
// the retention, which the keys are given unless they already live longer.
var fileReportScript = redis.NewScript(`
local function drop(id)
  local who = redis.call('HGET', KEYS[4], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  if not who then return end
  local session, reporter, reported = string.match(who, '^(%S+) (%S+) (%S+)$')
  redis.call('HDEL', KEYS[5], session .. ':' .. reporter)
  if redis.call('HEXISTS', KEYS[5], session .. ':' .. reported) == 0 then
    redis.call('HDEL', KEYS[6], session)
  end
end
for _, key in ipairs({KEYS[1], KEYS[2]}) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. ARGV[8])) do drop(id) end
end
local existing = redis.call('HGET', KEYS[5], ARGV[4] .. ':' .. ARGV[5])
if existing then return existing end
while redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[9]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1] or redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  drop(oldest)
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6])
redis.call('HSET', KEYS[5], ARGV[4] .. ':' .. ARGV[5], ARGV[1])
redis.call('HSETNX', KEYS[6], ARGV[4], ARGV[7])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < tonumber(ARGV[10]) then redis.call('PEXPIRE', key, ARGV[10]) end
end
return false
`)

// FileReport implements session.Reports.
func (s *Reports) FileReport(ctx context.Context, r session.Report, evidence []session.Message) (session.Report, error) {
	r.Evidence = nil
	data, err := json.Marshal(r)
	if err != nil {
		return session.Report{}, fmt.Errorf("redisengine: file report: %w", err)
	}
	if evidence == nil {
		evidence = []session.Message{}
	}
	ev, err := json.Marshal(evidence)
	if err != nil {
		return session.Report{}, fmt.Errorf("redisengine: file report: %w", err)
	}
	existing, err := fileReportScript.Run(ctx, s.rdb, s.keys, r.ID, r.CreatedAt.UnixMilli(), data, r.SessionID, r.Reporter, r.Reported, ev,
		s.cutoff().UnixMilli(), s.limits.MaxReports, max(1, time.Until(r.CreatedAt.Add(s.limits.Retention)).Milliseconds())).Int64()
	if errors.Is(err, redis.Nil) {
		return r, nil
	}
	if err != nil {
		return session.Report{}, fmt.Errorf("redisengine: file report: %w", err)
	}
	return s.update(ctx, existing, func(old *session.Report) error {
		old.Refile(r)
		return nil
	}, nil)
}

// cutoff is the time before which reports have passed the retention.
func (s *Reports) cutoff() time.Time { return time.Now().Add(-s.limits.Retention) }

// update changes a kept report with change, and then runs also in the same transaction; it
// fails if another node changes a report at the same time, and then reads the report again.
func (s *Reports) update(ctx context.Context, id int64, change func(*session.Report) error, also func(redis.Pipeliner)) (session.Report, error) {
	field := strconv.FormatInt(id, 10)
	var r session.Report
	apply := func(tx *redis.Tx) error {
		var err error
		if r, err = s.decode(tx.HGet(ctx, s.keys[reportsData], field).Bytes()); err != nil {
			return err
		}
		if err := change(&r); err != nil {
			return err
		}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.keys[reportsData], field, data)
			if also != nil {
				also(p)
			}
			return nil
		})
		return err
	}
	for {
		err := s.rdb.Watch(ctx, apply, s.keys[reportsData])
		switch {
		case errors.Is(err, redis.TxFailedErr):
			continue
		case errors.Is(err, session.ErrNoReport), errors.Is(err, session.ErrResolved):
			return session.Report{}, err
		case err != nil:
			return session.Report{}, fmt.Errorf("redisengine: change report: %w", err)
		}
		return r, nil
	}
}

// Reports implements session.Reports: the ids of both indexes, newest first, then the reports
// in one HMGET. Reports past the retention, not yet dropped, are skipped.
func (s *Reports) Reports(ctx context.Context) ([]session.Report, error) {
	var open, done *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		open = p.ZRangeWithScores(ctx, s.keys[reportsOpen], 0, -1)
		done = p.ZRangeWithScores(ctx, s.keys[reportsDone], 0, -1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	index := append(open.Val(), done.Val()...)
	if len(index) == 0 {
		return []session.Report{}, nil
	}
	slices.SortFunc(index, func(x, y redis.Z) int { return cmp.Compare(y.Score, x.Score) })
	fields := make([]string, len(index))
	for i, z := range index {
		fields[i] = z.Member.(string)
	}
	values, err := s.rdb.HMGet(ctx, s.keys[reportsData], fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	reports := make([]session.Report, 0, len(values))
	for _, v := range values {
		data, ok := v.(string)
		if !ok {
			continue // dropped between the two reads
		}
		r, err := s.decode([]byte(data), nil)
		switch {
		case errors.Is(err, session.ErrNoReport):
			continue // past the retention, not yet dropped
		case err != nil:
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// OpenReports implements session.Reports: the open reports not past the retention.
func (s *Reports) OpenReports(ctx context.Context) (int, error) {
	n, err := s.rdb.ZCount(ctx, s.keys[reportsOpen], strconv.FormatInt(s.cutoff().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("redisengine: count open reports: %w", err)
	}
	return int(n), nil
}

// Report implements session.Reports.
func (s *Reports) Report(ctx context.Context, id int64) (session.Report, error) {
	r, err := s.decode(s.rdb.HGet(ctx, s.keys[reportsData], strconv.FormatInt(id, 10)).Bytes())
	if err != nil {
		return session.Report{}, err
	}
	data, err := s.rdb.HGet(ctx, s.keys[reportsEvidence], strconv.FormatInt(r.SessionID, 10)).Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return session.Report{}, fmt.Errorf("redisengine: read report evidence: %w", err)
	}
	r.Evidence = []session.Message{}
	if data != nil {
		if err := json.Unmarshal(data, &r.Evidence); err != nil {
			return session.Report{}, fmt.Errorf("redisengine: decoding report evidence: %w", err)
		}
	}
	return r, nil
}

// ResolveReport implements session.Reports, moving the report from the open index to the
// resolved one.
func (s *Reports) ResolveReport(ctx context.Context, id int64, status string, res session.Resolution) (session.Report, error) {
	var created float64
	return s.update(ctx, id, func(r *session.Report) error {
		if r.Status != session.ReportOpen {
			return session.ErrResolved
		}
		r.Status, r.Resolution = status, &res
		created = float64(r.CreatedAt.UnixMilli())
		return nil
	}, func(p redis.Pipeliner) {
		p.ZRem(ctx, s.keys[reportsOpen], id)
		p.ZAdd(ctx, s.keys[reportsDone], redis.Z{Score: created, Member: id})
	})
}

// decode decodes a stored report, given an HGET's outcome; a report past the retention, not
// yet dropped, is not found either.
func (s *Reports) decode(data []byte, err error) (session.Report, error) {
	if errors.Is(err, redis.Nil) {
		return session.Report{}, session.ErrNoReport
	}
	if err != nil {
		return session.Report{}, fmt.Errorf("redisengine: read report: %w", err)
	}
	var r session.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return session.Report{}, fmt.Errorf("redisengine: decoding a report: %w", err)
	}
	if r.CreatedAt.Before(s.cutoff()) {
		return session.Report{}, session.ErrNoReport
	}
	return r, nil
}
