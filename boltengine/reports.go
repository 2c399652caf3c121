package boltengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/duetchat/duet/session"
)

// Reports is the session.Reports of one node, kept in its database for the report retention,
// with an index of the reports by the time they were filed.
type Reports struct {
	db        *DB
	retention time.Duration
	now       func() time.Time
}

var _ session.Reports = (*Reports)(nil)

// NewReports returns the reports kept in db, each for retention after it was filed.
func NewReports(db *DB, retention time.Duration, now func() time.Time) *Reports {
	return &Reports{db: db, retention: retention, now: now}
}

// AddReport implements session.Reports.
func (r *Reports) AddReport(_ context.Context, rep session.Report) error {
	data, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("boltengine: add report: %w", err)
	}
	err = r.db.bolt.Update(func(tx *bbolt.Tx) error {
		if err := purgeReports(tx, r.cutoff()); err != nil {
			return err
		}
		return errors.Join(
			tx.Bucket(reportsBucket).Put(u64(rep.ID), data),
			tx.Bucket(reportTimesBucket).Put(timeID(rep.CreatedAt, rep.ID), []byte{}),
		)
	})
	if err != nil {
		return fmt.Errorf("boltengine: add report: %w", err)
	}
	return nil
}

// cutoff is the time before which reports have passed the retention.
func (r *Reports) cutoff() time.Time { return r.now().Add(-r.retention) }

// Reports implements session.Reports.
func (r *Reports) Reports(context.Context) ([]session.Report, error) {
	cutoff := r.cutoff()
	reports := []session.Report{}
	expired := false
	err := r.db.bolt.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(reportTimesBucket).Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if readU64(k) < cutoff.UnixNano() {
				expired = true
				break
			}
			rep, err := readReport(tx, readU64(k[8:]))
			if err != nil {
				return err
			}
			reports = append(reports, rep)
		}
		return nil
	})
	if err == nil && expired {
		err = r.purge(cutoff)
	}
	if err != nil {
		return nil, fmt.Errorf("boltengine: list reports: %w", err)
	}
	return reports, nil
}

// Report implements session.Reports.
func (r *Reports) Report(_ context.Context, id int64) (session.Report, error) {
	cutoff := r.cutoff()
	var rep session.Report
	err := r.db.bolt.View(func(tx *bbolt.Tx) (err error) {
		rep, err = readReport(tx, id)
		return err
	})
	if err == nil && rep.CreatedAt.Before(cutoff) {
		if err = r.purge(cutoff); err == nil {
			err = session.ErrNoReport
		}
	}
	if err != nil {
		return session.Report{}, r.wrap("read report", err)
	}
	return rep, nil
}

// ResolveReport implements session.Reports.
func (r *Reports) ResolveReport(_ context.Context, id int64, status string, res session.Resolution) (session.Report, error) {
	cutoff := r.cutoff()
	var rep session.Report
	err := r.db.bolt.Update(func(tx *bbolt.Tx) error {
		var err error
		switch rep, err = readReport(tx, id); {
		case err != nil:
			return err
		case rep.CreatedAt.Before(cutoff):
			return session.ErrNoReport
		case rep.Status != session.ReportOpen:
			return session.ErrResolved
		}
		rep.Status, rep.Resolution = status, &res
		data, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		return tx.Bucket(reportsBucket).Put(u64(id), data)
	})
	if err != nil {
		return session.Report{}, r.wrap("resolve report", err)
	}
	return rep, nil
}

// wrap returns the refusals a client caused as they are, and says what failed of any other
// error.
func (r *Reports) wrap(what string, err error) error {
	switch {
	case errors.Is(err, session.ErrResolved):
		return session.ErrResolved
	case errors.Is(err, session.ErrNoReport):
		return session.ErrNoReport
	}
	return fmt.Errorf("boltengine: %s: %w", what, err)
}

// purge deletes the reports filed before cutoff.
func (r *Reports) purge(cutoff time.Time) error {
	return r.db.bolt.Update(func(tx *bbolt.Tx) error { return purgeReports(tx, cutoff) })
}

// purgeReports deletes the reports filed before cutoff, found by their time.
func purgeReports(tx *bbolt.Tx, cutoff time.Time) error {
	var old [][]byte
	c := tx.Bucket(reportTimesBucket).Cursor()
	for k, _ := c.First(); k != nil && readU64(k) < cutoff.UnixNano(); k, _ = c.Next() {
		old = append(old, k)
	}
	for _, k := range old {
		if err := errors.Join(tx.Bucket(reportsBucket).Delete(k[8:]), tx.Bucket(reportTimesBucket).Delete(k)); err != nil {
			return err
		}
	}
	return nil
}

// readReport reads a report, or ErrNoReport.
func readReport(tx *bbolt.Tx, id int64) (session.Report, error) {
	data := tx.Bucket(reportsBucket).Get(u64(id))
	if data == nil {
		return session.Report{}, session.ErrNoReport
	}
	var rep session.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return session.Report{}, fmt.Errorf("decoding report %d: %w", id, err)
	}
	return rep, nil
}
