package push

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// take is n tokens from a limiter; a nil limiter (no limit) gives any number.
type take struct {
	l *rate.Limiter
	n int
}

// allow takes every take or none of them. When one cannot be taken at now, it returns that
// take's index and how long until it could be; otherwise -1.
func allow(now time.Time, takes ...take) (refused int, wait time.Duration) {
	taken := make([]*rate.Reservation, 0, 4)
	for i, t := range takes {
		if t.l == nil {
			continue
		}
		r := t.l.ReserveN(now, min(t.n, t.l.Burst()))
		if delay := r.DelayFrom(now); delay > 0 {
			r.CancelAt(now)
			for _, earlier := range taken {
				earlier.CancelAt(now)
			}
			return i, delay
		}
		taken = append(taken, r)
	}
	return -1, 0
}

// need is n tokens of one of a request's limits.
type need struct {
	b bucket
	n int
}

// allow takes what needs ask from the buckets of the connection's account and of its client
// address, all or none, or refuses the request with RateLimited and the wait.
func (c *conn) allow(now time.Time, needs ...need) error {
	var buf [4]take
	takes := buf[:0]
	for _, n := range needs {
		takes = append(takes, take{c.limits[n.b], n.n})
	}
	if c.address != nil {
		for _, n := range needs {
			takes = append(takes, take{c.address.limiters[n.b], n.n})
		}
	}
	refused, wait := allow(now, takes...)
	switch {
	case refused < 0:
		if c.address != nil {
			c.srv.addresses.took(c.address, needs)
		}
		return nil
	case refused < len(needs):
		return &duet.Error{Code: duet.RateLimited, Msg: "too many requests; slow down", RetryAfter: wait}
	default:
		return &duet.Error{Code: duet.RateLimited, Msg: "too many requests from your network; slow down", RetryAfter: wait}
	}
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
