package redisengine

import (
	"testing"

	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/metrics/boardtest"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/moderation/moderationtest"
	"github.com/duetchat/duet/redisengine/redistest"
)

func TestModeration(t *testing.T) {
	client := storeClient(t)
	moderationtest.Run(t, func(t *testing.T) moderation.Store {
		return NewModeration(client, t.Name()+":", moderationtest.AuditSize)
	})
}

func TestModerationCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	client := openClient(t, c.URL())
	moderationtest.Run(t, func(t *testing.T) moderation.Store {
		return NewModeration(client, t.Name()+":", moderationtest.AuditSize)
	})
}

func TestBoard(t *testing.T) {
	boardtest.Run(t, func(t *testing.T) metrics.Board { return NewBoard(storeClient(t), t.Name()+":") })
}
