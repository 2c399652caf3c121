// Package redisengine keeps Duet's shared state in Redis (one server, Sentinel, or a Redis
// Cluster, through go-redis's UniversalClient) so that many nodes serve as one: Store
// implements session.Store and Queue implements match.Queue.
//
// Every key starts with a configurable prefix and carries a hash tag, so that everything one
// operation touches sits in one cluster slot and a Lua script can change it atomically:
//
//	{prefix}{a:ID}          account hash: nick, tok (hex sha-256), created, seen, away, ca, cn (client hashes),
//	                        node, routed
//	{prefix}{a:ID}:live     set of the account's live session ids
//	{prefix}{a:ID}:backlog  list of pushes (JSON session.Push) waiting for the account
//	{prefix}{s:ID}          session hash: a, an, ac, b, bn, bc (members: id, nick, client hashes as JSON), common (JSON), started, ended, reason, last, da, db (delivered
//	                        watermarks), va, vb (read watermarks), dropped,
//	                        ra, rb (the node each member's pushes go to, "" while away)
//	{prefix}{s:ID}:msgs     list of the session's last messages (JSON), oldest first
//	{prefix}{s:ID}:requests sorted set "sender:requestId" → msgId, for the messages still in msgs
//	{prefix}{presence}      sorted set account id → last seen (Unix ms)
//	{prefix}{presence}:resumed  the latest time (Unix ms) a node reached Redis again after failing
//	                        to: no account is taken for gone until the presence timeout after it
//	{prefix}{live}          sorted set session id → started (Unix ms), of the live sessions
//	{prefix}{q}:...         the waiting queue and its pairing bars, all in one slot
//	{prefix}{reports}:open  sorted set report id → first filed (Unix ms), of the open reports
//	{prefix}{reports}:done  sorted set report id → first filed (Unix ms), of the resolved reports
//	{prefix}{reports}:data  hash report id → report (JSON session.Report, without evidence)
//	{prefix}{reports}:who   hash report id → "session reporter reported"
//	{prefix}{reports}:by    hash "session:reporter" → report id
//	{prefix}{reports}:ev    hash session id → the session's evidence (JSON []session.Message)
//	{prefix}{bans}          hash ban id → ban (JSON moderation.Ban)
//	{prefix}{bans}:ends     sorted set ban id → until (Unix ms)
//	{prefix}{bans}:KIND:V   sorted set ban id → until, of the bans on one target
//	{prefix}{audit}         list of the newest audit entries (JSON moderation.Entry), bounded in size
//	{prefix}{settings}      hash: paused ("1" while matching is paused), challenge (the challenge
//	                        mode an operator set)
//	{prefix}{notice}        the operator's current notice (JSON moderation.Notice), expiring when it ends
//	{prefix}{board}         hash node id → the node's latest figures (JSON), for the admin API
//	{prefix}{history}:M     hash node id → the node's figures of Unix minute M (JSON metrics.Minute),
//	                        expiring once M is out of the last hour's history
//	{prefix}{n:ID}          the lease of node id ID (a random token)
//	{prefix}{n:ID}:push     the sharded pub/sub channel on which node ID receives pushes
//	{prefix}{broadcast}     the sharded pub/sub channel on which every node hears broadcasts
//	{prefix}{ad:HASH}       hash: the limits of one client address, by its keyed hash (see Addresses)
//	{prefix}{secret}        the key of client address hashes, when not configured: without
//	                        expiry, as every address ban depends on it
//	{prefix}{secret}:challenge  the key that signs proof-of-work challenges, when not configured:
//	                        without expiry, like the address secret
//	{prefix}{spent:HEX}     a challenge whose proof was accepted, until the challenge expires
//	{prefix}{tally}:W       new-account requests of the whole service in window W, for a few windows
//	{prefix}{epoch}         the name of this incarnation of the state (Epoch): without expiry, so
//	                        that it is gone only when everything else is
//
// Nothing lives forever: account keys expire StoreOptions.AccountTTL after the account was last
// seen, a session's keys SessionTTL (less at most sessionTTLSlack) after its last message while
// live and StoreOptions.Retention after it ends, the report keys the report retention after the
// last filing (and each report once past it, at the next filing), ban keys when their last ban
// ends, the notice when it ends, the queue's keys a day after the last write to it, and a node's
// lease unless the node renews it.
package redisengine

import (
	"strconv"
	"time"

	"github.com/duetchat/duet/moderation"
)

// Lifetimes of keys whose owner may vanish without cleaning up (a node crash, a lost sweep).
const (
	// SessionTTL is how long a live session's keys outlive its last message, give or take
	// sessionTTLSlack.
	SessionTTL = 24 * time.Hour
	// sessionTTLSlack is how far the expiry of a live session's keys may fall below SessionTTL
	// before a message renews it: renewing it at every message would cost Redis three
	// PEXPIREs per message.
	sessionTTLSlack = time.Hour
)

// keyspace names the keys under one prefix.
type keyspace struct{ prefix string }

// accountLiveSuffix follows an account's key in the key of its live set.
const accountLiveSuffix = ":live"

// accountAround returns what comes before and after the id in an account's key, for a script
// that names accounts it learns of as it runs.
func (k keyspace) accountAround() (head, tail string) { return k.prefix + "{a:", "}" }

// sessionAround is accountAround for a session's key.
func (k keyspace) sessionAround() (head, tail string) { return k.prefix + "{s:", "}" }

func (k keyspace) id(tag string, id int64) string {
	return k.prefix + "{" + tag + ":" + strconv.FormatInt(id, 10) + "}"
}

func (k keyspace) account(id int64) string {
	head, tail := k.accountAround()
	return head + strconv.FormatInt(id, 10) + tail
}
func (k keyspace) accountLive(id int64) string    { return k.account(id) + accountLiveSuffix }
func (k keyspace) accountBacklog(id int64) string { return k.account(id) + ":backlog" }
func (k keyspace) session(id int64) string        { return k.id("s", id) }
func (k keyspace) sessionMsgs(id int64) string    { return k.id("s", id) + ":msgs" }
func (k keyspace) sessionReqs(id int64) string    { return k.id("s", id) + ":requests" }
func (k keyspace) reports(part string) string     { return k.prefix + "{reports}:" + part }
func (k keyspace) bans() string                   { return k.prefix + "{bans}" }
func (k keyspace) banEnds() string                { return k.prefix + "{bans}:ends" }
func (k keyspace) banTarget(t moderation.Target) string {
	return k.prefix + "{bans}:" + t.String()
}
func (k keyspace) audit() string     { return k.prefix + "{audit}" }
func (k keyspace) settings() string  { return k.prefix + "{settings}" }
func (k keyspace) broadcast() string { return k.prefix + "{broadcast}" }
func (k keyspace) secret() string    { return k.prefix + "{secret}" }
func (k keyspace) spent(challenge string) string {
	return k.prefix + "{spent:" + challenge + "}"
}
func (k keyspace) tally(window int64) string {
	return k.prefix + "{tally}:" + strconv.FormatInt(window, 10)
}
func (k keyspace) epoch() string  { return k.prefix + "{epoch}" }
func (k keyspace) notice() string { return k.prefix + "{notice}" }
func (k keyspace) board() string  { return k.prefix + "{board}" }
func (k keyspace) historyMinute(at time.Time) string {
	return k.prefix + "{history}:" + strconv.FormatInt(at.Unix()/60, 10)
}
func (k keyspace) live() string             { return k.prefix + "{live}" }
func (k keyspace) presence() string         { return k.prefix + "{presence}" }
func (k keyspace) presenceResumed() string  { return k.prefix + "{presence}:resumed" }
func (k keyspace) queue(name string) string { return k.prefix + "{q}:" + name }
