package boltengine

import (
	"context"
	"log/slog"
	"time"

	"github.com/duetchat/duet"
)

// PurgeEvery deletes, every interval until ctx ends, the bans that have ended and the reports
// past the retention, so that they leave the disk on time even when nobody reads them.
func PurgeEvery(ctx context.Context, interval time.Duration, now func() time.Time, log *slog.Logger, m *Moderation, r *Reports) {
	duet.Every(ctx, interval, func() {
		at := now()
		if err := m.purge(at); err != nil {
			log.Error("deleting the bans that ended", "err", err)
		}
		if err := r.purge(at.Add(-r.limits.Retention)); err != nil {
			log.Error("deleting the reports past the retention", "err", err)
		}
	})
}
