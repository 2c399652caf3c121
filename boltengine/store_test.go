package boltengine

import (
	"testing"
	"time"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/moderation/moderationtest"
	"github.com/duetchat/duet/session"
	"github.com/duetchat/duet/session/storetest"
)

// openTemp opens a database in a directory of the test's own, closed when the test ends.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestModeration(t *testing.T) {
	moderationtest.Run(t, func(t *testing.T) moderation.Store { return NewModeration(openTemp(t), moderationtest.AuditSize) })
}

func TestReports(t *testing.T) {
	storetest.RunReports(t, func(t *testing.T) session.Reports { return NewReports(openTemp(t), storetest.ReportLimits, time.Now) })
}
