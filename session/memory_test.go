package session_test

import (
	"testing"
	"time"

	"github.com/duetchat/duet/session"
	"github.com/duetchat/duet/session/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) session.Store {
		return session.NewMemoryStore(session.MemoryOptions{
			HistorySize: storetest.HistorySize, BacklogSize: storetest.BacklogSize, Retention: storetest.Retention, Now: time.Now,
		})
	})
}

func TestMemoryReports(t *testing.T) {
	storetest.RunReports(t, func(*testing.T) session.Reports {
		return session.NewMemoryReports(storetest.ReportLimits, time.Now)
	})
}
