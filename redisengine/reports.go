package redisengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// Reports is the session.Reports of many nodes: each report is one key, with an index of
// reports by creation time.
type Reports struct {
	rdb       redis.UniversalClient
	keys      keyspace
	retention int64 // ms
}

var _ session.Reports = (*Reports)(nil)

// NewReports returns the report store kept under prefix by client, which keeps each report
// for retention.
func NewReports(client redis.UniversalClient, prefix string, retention time.Duration) *Reports {
	return &Reports{rdb: client, keys: keyspace{prefix}, retention: retention.Milliseconds()}
}

// AddReport implements session.Reports. The index of reports by creation time loses the ones
// that expired whenever a report is added.
func (s *Reports) AddReport(ctx context.Context, r session.Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisengine: add report: %w", err)
	}
	created := r.CreatedAt.UnixMilli()
	ttl := time.Duration(s.retention) * time.Millisecond
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.report(r.ID), b, ttl)
		p.ZRemRangeByScore(ctx, s.keys.reports(), "-inf", strconv.FormatInt(created-s.retention, 10))
		p.ZAdd(ctx, s.keys.reports(), redis.Z{Score: float64(created), Member: r.ID})
		p.PExpire(ctx, s.keys.reports(), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisengine: add report: %w", err)
	}
	return nil
}

// Reports implements session.Reports: the index, newest first, then every report in one
// pipeline. Reports that expired since the index was last trimmed are skipped.
func (s *Reports) Reports(ctx context.Context) ([]session.Report, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.keys.reports(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			n, _ := strconv.ParseInt(id, 10, 64)
			cmds[i] = p.Get(ctx, s.keys.report(n))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	reports := make([]session.Report, 0, len(ids))
	for _, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		r, err := decodeReport(data, err)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// Report implements session.Reports.
func (s *Reports) Report(ctx context.Context, id int64) (session.Report, error) {
	return decodeReport(s.rdb.Get(ctx, s.keys.report(id)).Bytes())
}

// ResolveReport implements session.Reports, as a transaction that fails if another node resolves
// the report at the same time; then it is read again and found resolved.
func (s *Reports) ResolveReport(ctx context.Context, id int64, status string, res session.Resolution) (session.Report, error) {
	key := s.keys.report(id)
	var r session.Report
	resolve := func(tx *redis.Tx) error {
		var err error
		if r, err = decodeReport(tx.Get(ctx, key).Bytes()); err != nil {
			return err
		}
		if r.Status != session.ReportOpen {
			return session.ErrResolved
		}
		r.Status, r.Resolution = status, &res
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SetArgs(ctx, key, b, redis.SetArgs{KeepTTL: true, Mode: "XX"})
			return nil
		})
		return err
	}
	for {
		err := s.rdb.Watch(ctx, resolve, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return session.Report{}, err
		}
		return r, nil
	}
}

// decodeReport decodes a stored report, given a GET's outcome.
func decodeReport(data []byte, err error) (session.Report, error) {
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
	return r, nil
}
