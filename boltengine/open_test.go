package boltengine

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

var ctx = context.Background()

// TestReopen: what one run of a node kept, the next run on the same directory finds, field
// for field: bans, reports, the audit log, the pause switch and the address secret.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	client := moderation.NewHasher([]byte("test")).Client(netip.MustParseAddr("192.0.2.7"))
	ban := moderation.Ban{ID: 7, Target: moderation.Target{Kind: moderation.KindAddress, Value: client.Addr},
		Reason: "spam", By: moderation.ByOperator, CreatedAt: now, Until: now.Add(time.Hour)}
	report := session.Report{ID: 9, SessionID: 3, Reporter: 1, Reported: 2, ReportedClient: client, Category: "spam",
		CreatedAt: now, UpdatedAt: now, Filings: 1, Status: session.ReportOpen}
	evidence := []session.Message{{ID: 4, SessionID: 3, SenderID: 2, Content: "buy now", SentAt: now}}
	entry := moderation.Entry{At: now, Operator: "ann", Address: "192.0.2.1", Action: "ban", Target: ban.Target.String(), Reason: "spam"}

	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := db.AddressSecret()
	if err != nil {
		t.Fatal(err)
	}
	limits := session.ReportLimits{Retention: time.Hour, MaxReports: 10}
	m, r := NewModeration(db, 10), NewReports(db, limits, time.Now)
	_, filed := r.FileReport(ctx, report, evidence)
	report.Evidence = evidence
	for _, err := range []error{m.AddBan(ctx, ban), filed, m.AddAudit(ctx, entry), m.SetMatchingPaused(ctx, true), db.Close()} {
		if err != nil {
			t.Fatal(err)
		}
	}

	db = openAt(t, dir)
	m, r = NewModeration(db, 10), NewReports(db, limits, time.Now)
	if secret, err := db.AddressSecret(); err != nil || string(secret) != string(first) {
		t.Errorf("address secret after a restart = %q, %v; want the first one, %q", secret, err, first)
	}
	if got, ok, err := m.FindBan(ctx, time.Now(), moderation.Targets(0, client)); err != nil || !ok || !reflect.DeepEqual(got, ban) {
		t.Errorf("FindBan after a restart = %+v, %v, %v; want %+v", got, ok, err, ban)
	}
	if got, err := r.Report(ctx, report.ID); err != nil || !reflect.DeepEqual(got, report) {
		t.Errorf("Report after a restart = %+v, %v; want %+v", got, err, report)
	}
	if got, err := m.Audit(ctx, 10); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], entry) {
		t.Errorf("Audit after a restart = %+v, %v; want [%+v]", got, err, entry)
	}
	if paused, err := m.MatchingPaused(ctx); err != nil || !paused {
		t.Errorf("MatchingPaused after a restart = %v, %v; want true", paused, err)
	}
}

// openAt opens the database in dir, closed when the test ends.
func openAt(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestOpenMakesPrivateDirectory: a missing data directory is made, readable by its owner only,
// and so is the database.
func TestOpenMakesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "duet")
	openAt(t, dir)
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, FileName): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, fi.Mode(), err, want)
		}
	}
}

// TestOpenInUse: a second process on the same directory is refused at once, in words that say
// why.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir)
	start := time.Now()
	db, err := Open(dir)
	if err == nil {
		db.Close()
		t.Fatal("opened a database that is open already; want an error")
	}
	if !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), dir) {
		t.Errorf("error = %q; want it to name %s and say it is in use by another process", err, dir)
	}
	if waited := time.Since(start); waited > 5*lockWait {
		t.Errorf("refused after %v; want about %v", waited, lockWait)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(file); err == nil {
		db.Close()
		t.Fatal("opened a database under a file; want an error")
	}
}

// TestPurgeEvery: ended bans and expired reports leave the database on time, with nobody
// reading them.
func TestPurgeEvery(t *testing.T) {
	db := openTemp(t)
	m, r := NewModeration(db, 10), NewReports(db, session.ReportLimits{Retention: 100 * time.Millisecond, MaxReports: 10}, time.Now)
	now := time.Now()
	_, filed := r.FileReport(ctx, session.Report{ID: 2, SessionID: 3, Reporter: 4, Reported: 5, CreatedAt: now, Status: session.ReportOpen}, nil)
	for _, err := range []error{
		m.AddBan(ctx, moderation.Ban{ID: 1, Target: moderation.AccountTarget(5), CreatedAt: now, Until: now.Add(100 * time.Millisecond)}),
		filed,
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := keys(t, db); n != 7 {
		t.Fatalf("%d keys in the database after a ban and a report; want 7 (with their indexes and the evidence)", n)
	}
	purging, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		PurgeEvery(purging, 20*time.Millisecond, time.Now, slog.New(slog.DiscardHandler), m, r)
	}()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); keys(t, db) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys of ended bans and expired reports still in the database after 5s", keys(t, db))
		}
	}
}

// keys counts the keys of the bans and reports buckets and their indexes.
func keys(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bansBucket, banEndsBucket, banTargetsBucket, reportsBucket, reportTimesBucket, reportByBucket, evidenceBucket} {
			n += tx.Bucket(b).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
