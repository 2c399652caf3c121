package boltengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/duetchat/duet/moderation"
)

// Moderation is the moderation.Store of one node, kept in its database. A ban is stored whole,
// as JSON, so that every field of moderation.Ban survives a restart, with two indexes: by end,
// to forget the bans that ended, and by target, so that the check at every connection reads
// only the bans of that client.
type Moderation struct {
	db        *DB
	auditSize int
}

var _ moderation.Store = (*Moderation)(nil)

// NewModeration returns the bans, audit log (of auditSize entries) and settings kept in db.
func NewModeration(db *DB, auditSize int) *Moderation {
	return &Moderation{db: db, auditSize: auditSize}
}

// AddBan implements moderation.Store.
func (m *Moderation) AddBan(_ context.Context, b moderation.Ban) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("boltengine: add ban: %w", err)
	}
	err = m.db.bolt.Update(func(tx *bbolt.Tx) error {
		if err := purgeBans(tx, b.CreatedAt); err != nil {
			return err
		}
		if err := deleteBan(tx, b.ID); err != nil { // the same id again replaces the ban
			return err
		}
		return errors.Join(
			tx.Bucket(bansBucket).Put(u64(b.ID), data),
			tx.Bucket(banEndsBucket).Put(timeID(b.Until, b.ID), []byte{}),
			tx.Bucket(banTargetsBucket).Put(targetKey(b.Target, b.ID), u64(b.Until.UnixNano())),
		)
	})
	if err != nil {
		return fmt.Errorf("boltengine: add ban: %w", err)
	}
	return nil
}

// LiftBan implements moderation.Store.
func (m *Moderation) LiftBan(_ context.Context, id int64, now time.Time) (moderation.Ban, error) {
	var b moderation.Ban
	err := m.db.bolt.Update(func(tx *bbolt.Tx) error {
		var found bool
		var err error
		if b, found, err = readBan(tx, id); err != nil {
			return err
		}
		if !found || !b.Active(now) {
			return moderation.ErrNoBan
		}
		return deleteBan(tx, id)
	})
	if errors.Is(err, moderation.ErrNoBan) {
		return moderation.Ban{}, err
	}
	if err != nil {
		return moderation.Ban{}, fmt.Errorf("boltengine: lift ban: %w", err)
	}
	return b, nil
}

// Bans implements moderation.Store.
func (m *Moderation) Bans(_ context.Context, now time.Time) ([]moderation.Ban, error) {
	bans := []moderation.Ban{}
	ended := false
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bansBucket).ForEach(func(_, data []byte) error {
			var b moderation.Ban
			if err := json.Unmarshal(data, &b); err != nil {
				return fmt.Errorf("decoding a ban: %w", err)
			}
			if !b.Active(now) {
				ended = true
				return nil
			}
			bans = append(bans, b)
			return nil
		})
	})
	if err == nil && ended {
		err = m.purge(now)
	}
	if err != nil {
		return nil, fmt.Errorf("boltengine: list bans: %w", err)
	}
	slices.SortFunc(bans, func(a, b moderation.Ban) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return bans, nil
}

// FindBan implements moderation.Store.
func (m *Moderation) FindBan(_ context.Context, now time.Time, targets []moderation.Target) (moderation.Ban, bool, error) {
	var found moderation.Ban
	ok, ended := false, false
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		var best int64
		bestEnd := now.UnixNano()
		c := tx.Bucket(banTargetsBucket).Cursor()
		for _, t := range targets {
			prefix := targetPrefix(t)
			for k, until := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, until = c.Next() {
				switch end := readU64(until); {
				case end <= now.UnixNano():
					ended = true
				case end > bestEnd:
					best, bestEnd = readU64(k[len(prefix):]), end
				}
			}
		}
		if best == 0 {
			return nil
		}
		var err error
		found, ok, err = readBan(tx, best)
		return err
	})
	if err == nil && ended {
		err = m.purge(now)
	}
	if err != nil {
		return moderation.Ban{}, false, fmt.Errorf("boltengine: find ban: %w", err)
	}
	return found, ok, nil
}

// purge deletes the bans that ended by now.
func (m *Moderation) purge(now time.Time) error {
	return m.db.bolt.Update(func(tx *bbolt.Tx) error { return purgeBans(tx, now) })
}

// purgeBans deletes the bans that ended by now, found by their end.
func purgeBans(tx *bbolt.Tx, now time.Time) error {
	var ids []int64
	c := tx.Bucket(banEndsBucket).Cursor()
	for k, _ := c.First(); k != nil && readU64(k) <= now.UnixNano(); k, _ = c.Next() {
		ids = append(ids, readU64(k[8:]))
	}
	for _, id := range ids {
		if err := deleteBan(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// deleteBan deletes a ban and its index entries, if it is there.
func deleteBan(tx *bbolt.Tx, id int64) error {
	b, found, err := readBan(tx, id)
	if err != nil || !found {
		return err
	}
	return errors.Join(
		tx.Bucket(bansBucket).Delete(u64(id)),
		tx.Bucket(banEndsBucket).Delete(timeID(b.Until, id)),
		tx.Bucket(banTargetsBucket).Delete(targetKey(b.Target, id)),
	)
}

func readBan(tx *bbolt.Tx, id int64) (moderation.Ban, bool, error) {
	data := tx.Bucket(bansBucket).Get(u64(id))
	if data == nil {
		return moderation.Ban{}, false, nil
	}
	var b moderation.Ban
	if err := json.Unmarshal(data, &b); err != nil {
		return moderation.Ban{}, false, fmt.Errorf("decoding ban %d: %w", id, err)
	}
	return b, true, nil
}

// targetKey is the key of a ban in the index by target: its target's prefix and its id.
func targetKey(t moderation.Target, id int64) []byte { return append(targetPrefix(t), u64(id)...) }

// targetPrefix begins the keys of a target's bans: the target and a zero byte, which no target
// contains.
func targetPrefix(t moderation.Target) []byte { return append([]byte(t.String()), 0) }

// AddAudit implements moderation.Store. Entries are numbered in order; adding one deletes
// those that fall out of the newest auditSize.
func (m *Moderation) AddAudit(_ context.Context, e moderation.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("boltengine: add audit entry: %w", err)
	}
	err = m.db.bolt.Update(func(tx *bbolt.Tx) error {
		log := tx.Bucket(auditBucket)
		seq, err := log.NextSequence()
		if err != nil {
			return err
		}
		if err := log.Put(u64(int64(seq)), data); err != nil {
			return err
		}
		var old [][]byte
		c := log.Cursor()
		for k, _ := c.First(); k != nil && readU64(k) <= int64(seq)-int64(m.auditSize); k, _ = c.Next() {
			old = append(old, k)
		}
		for _, k := range old {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltengine: add audit entry: %w", err)
	}
	return nil
}

// Audit implements moderation.Store.
func (m *Moderation) Audit(_ context.Context, limit int) ([]moderation.Entry, error) {
	entries := []moderation.Entry{}
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(auditBucket).Cursor()
		for k, data := c.Last(); k != nil && len(entries) < limit; k, data = c.Prev() {
			var e moderation.Entry
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("decoding an audit entry: %w", err)
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltengine: read the audit log: %w", err)
	}
	return entries, nil
}

// pausedKey is the setting that pauses matching, "1" or "0".
var pausedKey = []byte("matching-paused")

// SetMatchingPaused implements moderation.Store. The switch outlives a restart, as it does on
// the redis engine.
func (m *Moderation) SetMatchingPaused(_ context.Context, paused bool) error {
	value := []byte("0")
	if paused {
		value = []byte("1")
	}
	err := m.db.bolt.Update(func(tx *bbolt.Tx) error { return tx.Bucket(settingsBucket).Put(pausedKey, value) })
	if err != nil {
		return fmt.Errorf("boltengine: pausing matching: %w", err)
	}
	return nil
}

// MatchingPaused implements moderation.Store.
func (m *Moderation) MatchingPaused(context.Context) (bool, error) {
	var paused bool
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		paused = string(tx.Bucket(settingsBucket).Get(pausedKey)) == "1"
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("boltengine: reading the settings: %w", err)
	}
	return paused, nil
}

// challengeKey is the setting that holds the challenge mode an operator set.
var challengeKey = []byte("challenge-mode")

// SetChallengeMode implements moderation.Store. The mode outlives a restart, as it does on the
// redis engine.
func (m *Moderation) SetChallengeMode(_ context.Context, mode string) error {
	err := m.db.bolt.Update(func(tx *bbolt.Tx) error { return tx.Bucket(settingsBucket).Put(challengeKey, []byte(mode)) })
	if err != nil {
		return fmt.Errorf("boltengine: setting the challenge mode: %w", err)
	}
	return nil
}

// ChallengeMode implements moderation.Store.
func (m *Moderation) ChallengeMode(context.Context) (string, error) {
	var mode string
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		mode = string(tx.Bucket(settingsBucket).Get(challengeKey))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("boltengine: reading the settings: %w", err)
	}
	return mode, nil
}

// noticeKey is the setting that holds the current notice, as JSON.
var noticeKey = []byte("notice")

// SetNotice implements moderation.Store. The notice outlives a restart until its end, so that
// a node restarted during a maintenance window still tells the people who connect.
func (m *Moderation) SetNotice(_ context.Context, n moderation.Notice) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("boltengine: set the notice: %w", err)
	}
	err = m.db.bolt.Update(func(tx *bbolt.Tx) error { return tx.Bucket(settingsBucket).Put(noticeKey, data) })
	if err != nil {
		return fmt.Errorf("boltengine: set the notice: %w", err)
	}
	return nil
}

// CurrentNotice implements moderation.Store.
func (m *Moderation) CurrentNotice(_ context.Context, now time.Time) (moderation.Notice, bool, error) {
	var n moderation.Notice
	err := m.db.bolt.View(func(tx *bbolt.Tx) error {
		data := tx.Bucket(settingsBucket).Get(noticeKey)
		if data == nil {
			return nil
		}
		return json.Unmarshal(data, &n)
	})
	if err != nil {
		return moderation.Notice{}, false, fmt.Errorf("boltengine: read the notice: %w", err)
	}
	if !now.Before(n.Until) {
		return moderation.Notice{}, false, nil
	}
	return n, true, nil
}
