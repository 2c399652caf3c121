package boltengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/duetchat/duet/session"
)

// Reports is the session.Reports of one node, kept in its database within its limits, with an
// index of the reports by the time they were filed, another by session and reporter, and each
// session's evidence once.
type Reports struct {
	db     *DB
	limits session.ReportLimits
	now    func() time.Time
}

var _ session.Reports = (*Reports)(nil)

// NewReports returns the reports kept in db within limits.
func NewReports(db *DB, limits session.ReportLimits, now func() time.Time) *Reports {
	return &Reports{db: db, limits: limits, now: now}
}

// FileReport implements session.Reports.
func (r *Reports) FileReport(_ context.Context, rep session.Report, evidence []session.Message) (session.Report, error) {
	rep.Evidence = nil
	err := r.db.bolt.Update(func(tx *bbolt.Tx) error {
		if err := purgeReports(tx, r.cutoff()); err != nil {
			return err
		}
		by := append(u64(rep.SessionID), u64(rep.Reporter)...)
		if id := tx.Bucket(reportByBucket).Get(by); id != nil {
			filed := rep
			var err error
			if rep, err = readReport(tx, readU64(id)); err != nil {
				return err
			}
			rep.Refile(filed)
			return putReport(tx, rep)
		}
		if err := makeRoom(tx, r.limits.MaxReports); err != nil {
			return err
		}
		if tx.Bucket(evidenceBucket).Get(u64(rep.SessionID)) == nil {
			data, err := json.Marshal(evidence)
			if err != nil {
				return err
			}
			if err := tx.Bucket(evidenceBucket).Put(u64(rep.SessionID), data); err != nil {
				return err
			}
		}
		return errors.Join(
			putReport(tx, rep),
			tx.Bucket(reportTimesBucket).Put(timeID(rep.CreatedAt, rep.ID), []byte{}),
			tx.Bucket(reportByBucket).Put(by, u64(rep.ID)),
		)
	})
	if err != nil {
		return session.Report{}, fmt.Errorf("boltengine: file report: %w", err)
	}
	return rep, nil
}

// makeRoom drops reports until fewer than max are kept: the oldest resolved one, or the oldest
// one when all are open.
func makeRoom(tx *bbolt.Tx, max int) error {
	for countKeys(tx.Bucket(reportTimesBucket)) >= max {
		var oldest, oldestResolved []byte
		c := tx.Bucket(reportTimesBucket).Cursor()
		for k, _ := c.First(); k != nil && oldestResolved == nil; k, _ = c.Next() {
			rep, err := readReport(tx, readU64(k[8:]))
			if err != nil {
				return err
			}
			if oldest == nil {
				oldest = bytes.Clone(k)
			}
			if rep.Status != session.ReportOpen {
				oldestResolved = bytes.Clone(k)
			}
		}
		if oldestResolved != nil {
			oldest = oldestResolved
		}
		if err := dropReport(tx, oldest); err != nil {
			return err
		}
	}
	return nil
}

// countKeys counts the keys of b.
func countKeys(b *bbolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// cutoff is the time before which reports have passed the retention.
func (r *Reports) cutoff() time.Time { return r.now().Add(-r.limits.Retention) }

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
			rep.Evidence = nil // kept within the report by earlier versions
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

// OpenReports implements session.Reports.
func (r *Reports) OpenReports(ctx context.Context) (int, error) {
	reports, err := r.Reports(ctx)
	n := 0
	for _, rep := range reports {
		if rep.Status == session.ReportOpen {
			n++
		}
	}
	return n, err
}

// Report implements session.Reports.
func (r *Reports) Report(_ context.Context, id int64) (session.Report, error) {
	cutoff := r.cutoff()
	var rep session.Report
	err := r.db.bolt.View(func(tx *bbolt.Tx) (err error) {
		if rep, err = readReport(tx, id); err != nil {
			return err
		}
		if data := tx.Bucket(evidenceBucket).Get(u64(rep.SessionID)); data != nil {
			rep.Evidence = nil
			if err := json.Unmarshal(data, &rep.Evidence); err != nil {
				return fmt.Errorf("decoding the evidence of session %d: %w", rep.SessionID, err)
			}
		}
		if rep.Evidence == nil {
			rep.Evidence = []session.Message{}
		}
		return nil
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
		return putReport(tx, rep)
	})
	if err != nil {
		return session.Report{}, r.wrap("resolve report", err)
	}
	rep.Evidence = nil
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
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := dropReport(tx, k); err != nil {
			return err
		}
	}
	return nil
}

// dropReport deletes the report whose time key is k, and its session's evidence unless the
// other member's report on the session is still kept.
func dropReport(tx *bbolt.Tx, k []byte) error {
	id := k[8:]
	rep, err := readReport(tx, readU64(id))
	if err != nil && !errors.Is(err, session.ErrNoReport) {
		return err
	}
	err = errors.Join(tx.Bucket(reportsBucket).Delete(id), tx.Bucket(reportTimesBucket).Delete(k))
	if err != nil || rep.ID == 0 {
		return err
	}
	by := tx.Bucket(reportByBucket)
	if err := by.Delete(append(u64(rep.SessionID), u64(rep.Reporter)...)); err != nil {
		return err
	}
	if by.Get(append(u64(rep.SessionID), u64(rep.Reported)...)) == nil {
		return tx.Bucket(evidenceBucket).Delete(u64(rep.SessionID))
	}
	return nil
}

// putReport stores a report. Reports filed by earlier versions carry their evidence within.
func putReport(tx *bbolt.Tx, rep session.Report) error {
	data, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return tx.Bucket(reportsBucket).Put(u64(rep.ID), data)
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
