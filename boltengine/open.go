// Package boltengine keeps what one node must not forget at a restart in an embedded bbolt
// database in the node's data directory: bans, reports, the audit log, the operators' switches
// and the key of client address hashes. It serves the memory engine, whose chats, accounts and
// queue stay in memory by design; the redis engine keeps all of this in Redis instead.
//
// Records that have ended (bans past their end, reports past the report retention) are never
// returned, and are deleted from the database when a read meets them and by PurgeEvery.
package boltengine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database's file in the data directory.
const FileName = "duet.db"

// lockWait is how long Open waits for another process to release the database.
const lockWait = time.Second

// The buckets, each created when the database is opened.
var (
	bansBucket        = []byte("bans")         // ban id → the ban as JSON
	banEndsBucket     = []byte("ban-ends")     // until + ban id → nothing: the bans by their end
	banTargetsBucket  = []byte("ban-targets")  // target + 0 + ban id → until: the bans by target
	reportsBucket     = []byte("reports")      // report id → the report as JSON
	reportTimesBucket = []byte("report-times") // created + report id → nothing: the reports by age
	reportByBucket    = []byte("report-by")    // session id + reporter id → report id
	evidenceBucket    = []byte("evidence")     // session id → the session's evidence as JSON
	auditBucket       = []byte("audit")        // sequence → the entry as JSON
	settingsBucket    = []byte("settings")     // name → value
)

// DB is a node's database, safe for concurrent use.
type DB struct {
	bolt *bbolt.DB
}

// Open opens the database in dir, making dir (readable by its owner only) and the database if
// they do not exist. Only one process may have it open: a second one is refused at once.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltengine: making the directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	bolt, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockWait})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltengine: %s is in use by another process (is another duet serve running on this directory?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("boltengine: opening %s: %w", path, err)
	}
	err = bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bansBucket, banEndsBucket, banTargetsBucket, reportsBucket, reportTimesBucket, reportByBucket, evidenceBucket, auditBucket, settingsBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("boltengine: preparing %s: %w", path, err), bolt.Close())
	}
	return &DB{bolt: bolt}, nil
}

// Close closes the database, once every transaction has finished.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("boltengine: closing: %w", err)
	}
	return nil
}

// Path is the database's file.
func (db *DB) Path() string { return db.bolt.Path() }

// u64 is the 8-byte big-endian key of n, which sorts as n does for n ≥ 0.
func u64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// timeID is the key of a record by a time and then its id: the records in order of that time.
func timeID(t time.Time, id int64) []byte { return append(u64(t.UnixNano()), u64(id)...) }

// readU64 reads an 8-byte big-endian key.
func readU64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
