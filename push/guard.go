package push

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// take is n tokens from a limiter; a nil limiter (an exempt client) gives any number.
type take struct {
	l *rate.Limiter
	n int
}

// allow takes every take or none of them, or returns RateLimited with the wait.
func allow(now time.Time, takes ...take) error {
	var taken []*rate.Reservation
	for _, t := range takes {
		if t.l == nil {
			continue
		}
		r := t.l.ReserveN(now, min(t.n, t.l.Burst()))
		if delay := r.DelayFrom(now); delay > 0 {
			r.CancelAt(now)
			for _, earlier := range taken {
				earlier.CancelAt(now)
			}
			return &duet.Error{Code: duet.RateLimited, Msg: "too many requests; slow down", RetryAfter: delay}
		}
		taken = append(taken, r)
	}
	return nil
}

// kick tells the client it was removed (Kicked) and closes the connection with 1008. Requests
// it still sends meanwhile are refused with Banned.
func (c *conn) kick(k session.KickedData) {
	if !c.kicked.CompareAndSwap(nil, &k) {
		return
	}
	p := session.SignalPush(session.SignalKicked, 0, 0, c.account.Load(), k)
	c.enqueueAll([]frame{{kind: kindPush, cmd: p.Cmd, body: p.Body}, {close: closePolicy, closeReason: "removed"}})
}

// named reports whether the connection is one of target's; a nil target names every one.
func (c *conn) named(t *moderation.Target) bool {
	if t == nil {
		return true
	}
	switch t.Kind {
	case moderation.KindAccount:
		return moderation.AccountTarget(c.account.Load()) == *t
	case moderation.KindAddress:
		return c.client.Addr != "" && c.client.Addr == t.Value
	case moderation.KindNetwork:
		return c.client.Network != "" && c.client.Network == t.Value
	}
	return false
}

// kickedError is the refusal of a request from a connection that was kicked.
func kickedError(k *session.KickedData) error {
	if k.Until != 0 {
		return moderation.Ban{Reason: k.Reason, Until: time.UnixMilli(k.Until)}.Error()
	}
	return &duet.Error{Code: duet.Banned, Msg: "you were removed from the service", Reason: k.Reason}
}

// strikeOut ends a connection that keeps sending bad or rate-limited frames: it is closed with
// 1008 and, unless the client is exempt or cooling-off is off, its account and address are
// banned for the cooling-off time.
func (c *conn) strikeOut(ctx context.Context) {
	if !c.exempt {
		b, cooled, err := c.srv.svc.CoolOff(ctx, c.account.Load(), c.client, "too many bad or rate-limited frames")
		if err != nil {
			c.srv.log.Warn("cooling off a flooding client", "account", c.account.Load(), "err", err)
		}
		if cooled {
			c.kick(session.KickedData{Reason: b.Reason, Until: b.Until.UnixMilli()})
			return
		}
	}
	c.closeAfter(closePolicy, "too many bad frames")
}
