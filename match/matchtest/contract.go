// Package matchtest is the contract every match.Queue engine must meet, as a test suite that
// each engine's tests run against a fresh queue.
package matchtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet/match"
)

// The rules the contract makes queues with.
var (
	// plain pairs by interests alone: two who parted may meet again at once.
	plain = match.Rule{InterestWait: 10 * time.Second}
	// shrinking keeps two who parted apart for a minute while cooldownQueue others wait, and
	// for less while fewer do.
	shrinking = match.Rule{InterestWait: plain.InterestWait, PartnerCooldown: time.Minute, CooldownQueue: cooldownQueue}
	// fullCooldown keeps two who parted apart for a minute, however few wait.
	fullCooldown = match.Rule{InterestWait: plain.InterestWait, PartnerCooldown: time.Minute}
	// distinct never pairs two waiters from one client.
	distinct = match.Rule{InterestWait: plain.InterestWait, DistinctClients: true}
)

const cooldownQueue = 4

// Run runs the contract against queues made by newQueue, each with the rule it is given.
func Run(t *testing.T, newQueue func(t *testing.T, rule match.Rule) match.Queue) {
	type contractTest struct {
		name string
		rule match.Rule
		test func(t *testing.T, q match.Queue)
	}
	tests := []contractTest{
		{"FirstWaitsSecondMatches", plain, firstWaitsSecondMatches},
		{"RepeatedMatchKeepsPlace", plain, repeatedMatchKeepsPlace},
		{"LongestWaiterFirst", plain, longestWaiterFirst},
		{"SharedInterestPreferred", plain, sharedInterestPreferred},
		{"InterestWindowCloses", plain, interestWindowCloses},
		{"NeverTheSamePairTwice", shrinking, neverTheSamePairTwice},
		{"ReleasedAfterCooldown", fullCooldown, releasedAfterCooldown},
		{"CooldownWhileBusy", shrinking, cooldownWhileBusy},
		{"CooldownShrinksAsTheQueueEmpties", shrinking, cooldownShrinksAsTheQueueEmpties},
		{"BlockedForGood", shrinking, blockedForGood},
		{"CancelAndForget", plain, cancelAndForget},
		{"RequeueKeepsPlace", plain, requeueKeepsPlace},
		{"DistinctClientsWaitForOthers", distinct, distinctClientsWaitForOthers},
		{"DistinctClientsAfterTheInterestWindow", distinct, distinctClientsAfterTheInterestWindow},
		{"SameClientPairsByDefault", plain, sameClientPairsByDefault},
		{"Storm", plain, storm},
		{"StormOfFewClients", distinct, stormOfFewClients},
	}
	for _, crowd := range []int{0, 1, 2, cooldownQueue - 1, cooldownQueue, 2 * cooldownQueue} {
		tests = append(tests, contractTest{
			fmt.Sprintf("CooldownWith%dOthersWaiting", crowd), shrinking,
			func(t *testing.T, q match.Queue) { cooldownWithOthersWaiting(t, q, crowd) },
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newQueue(t, tt.rule)) })
	}
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func waiter(id int64, since time.Time, interests ...string) match.Waiter {
	return match.Waiter{AccountID: id, Nickname: fmt.Sprint("n", id), Interests: interests, Since: since}
}

// from is w connecting from client.
func from(client string, w match.Waiter) match.Waiter {
	w.Client = client
	return w
}

// mustMatch calls Match and checks whether it paired, and with whom.
func mustMatch(t *testing.T, q match.Queue, w match.Waiter, now time.Time, want int64) match.Pair {
	t.Helper()
	p, ok, err := q.Match(context.Background(), w, now)
	if err != nil {
		t.Fatalf("Match(%d): %v", w.AccountID, err)
	}
	switch {
	case want == 0 && ok:
		t.Fatalf("Match(%d) paired with %d, want queued", w.AccountID, p.B.AccountID)
	case want != 0 && !ok:
		t.Fatalf("Match(%d) queued, want paired with %d", w.AccountID, want)
	case want != 0 && (p.A.AccountID != w.AccountID || p.B.AccountID != want):
		t.Fatalf("Match(%d) paired %d with %d, want %d with %d", w.AccountID, p.A.AccountID, p.B.AccountID, w.AccountID, want)
	}
	return p
}

func firstWaitsSecondMatches(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	p := mustMatch(t, q, waiter(2, t0.Add(time.Second)), t0.Add(time.Second), 1)
	if p.B.Nickname != "n1" || !p.B.Since.Equal(t0) {
		t.Errorf("partner = %+v, want n1 waiting since %v", p.B, t0)
	}
	if w, _ := q.Waiting(context.Background()); len(w) != 0 {
		t.Errorf("queue after pairing = %v, want empty", w)
	}
}

func repeatedMatchKeepsPlace(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(1, t0.Add(time.Second)), t0.Add(time.Second), 0)
	w, _ := q.Waiting(context.Background())
	if len(w) != 1 || !w[0].Since.Equal(t0) {
		t.Errorf("queue = %v, want only 1, waiting since %v", w, t0)
	}
}

func longestWaiterFirst(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	q2 := waiter(2, t0.Add(time.Second))
	// 2 may not meet 1: it stays queued behind it.
	if err := q.Block(context.Background(), 1, 2); err != nil {
		t.Fatal(err)
	}
	mustMatch(t, q, q2, q2.Since, 0)
	now := t0.Add(2 * time.Second)
	mustMatch(t, q, waiter(3, now), now, 1)
}

func sharedInterestPreferred(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	// 2 holds out for someone who likes music, so 1, who named no interest, will not do yet.
	mustMatch(t, q, waiter(2, t0.Add(time.Second), "music"), t0.Add(time.Second), 0)
	now := t0.Add(2 * time.Second)
	p := mustMatch(t, q, waiter(3, now, "chess", "music"), now, 2)
	if fmt.Sprint(p.Common) != "[music]" {
		t.Errorf("common = %v, want [music]", p.Common)
	}
	mustMatch(t, q, waiter(4, now), now, 1)
}

func interestWindowCloses(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0, "go"), t0, 0)
	mustMatch(t, q, waiter(2, t0.Add(time.Second), "rust"), t0.Add(time.Second), 0)
	if pairs, _ := q.MatchWaiting(ctx, t0.Add(plain.InterestWait)); len(pairs) != 0 {
		t.Fatalf("pairs while 2 still insists = %v, want none", pairs)
	}
	pairs, err := q.MatchWaiting(ctx, t0.Add(time.Second+plain.InterestWait))
	if err != nil || len(pairs) != 1 || pairs[0].A.AccountID != 1 || pairs[0].B.AccountID != 2 {
		t.Fatalf("MatchWaiting = %v, %v, want 1 with 2", pairs, err)
	}
}

func neverTheSamePairTwice(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	mustMatch(t, q, waiter(1, t0.Add(time.Second)), t0.Add(time.Second), 0)
	mustMatch(t, q, waiter(2, t0.Add(time.Hour)), t0.Add(time.Hour), 0)
}

// releasedAfterCooldown: with the cooldown in full whatever the queue, two who parted wait out
// all of it, even alone.
func releasedAfterCooldown(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	mustRelease(t, q, 1, 2, t0)
	mustMatch(t, q, waiter(1, t0.Add(time.Second)), t0.Add(time.Second), 0)
	mustMatch(t, q, waiter(2, t0.Add(30*time.Second)), t0.Add(30*time.Second), 0)
	if pairs, _ := q.MatchWaiting(ctx, t0.Add(time.Minute-time.Millisecond)); len(pairs) != 0 {
		t.Fatalf("pairs a millisecond before the cooldown ends = %v, want none", pairs)
	}
	if _, err := q.Cancel(ctx, 2); err != nil {
		t.Fatal(err)
	}
	mustMatch(t, q, waiter(2, t0.Add(time.Minute)), t0.Add(time.Minute), 1)
}

// cooldownWithOthersWaiting: two who parted, with crowd others waiting who cannot pair, are kept
// apart for crowd/cooldownQueue of the cooldown, or all of it from cooldownQueue on.
func cooldownWithOthersWaiting(t *testing.T, q match.Queue, crowd int) {
	ctx := context.Background()
	apart := time.Minute * time.Duration(min(crowd, cooldownQueue)) / cooldownQueue
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	mustRelease(t, q, 1, 2, t0)
	queueCrowd(t, q, t0, crowd, 1, 2)
	mustMatch(t, q, waiter(1, t0), t0, 0)
	if apart == 0 {
		mustMatch(t, q, waiter(2, t0), t0, 1)
		return
	}
	mustMatch(t, q, waiter(2, t0), t0, 0)
	if pairs, _ := q.MatchWaiting(ctx, t0.Add(apart-time.Millisecond)); len(pairs) != 0 {
		t.Fatalf("pairs a millisecond before %v = %v, want none", apart, pairs)
	}
	pairs, err := q.MatchWaiting(ctx, t0.Add(apart))
	if err != nil || len(pairs) != 1 || pairs[0].A.AccountID != 1 || pairs[0].B.AccountID != 2 {
		t.Fatalf("MatchWaiting after %v = %v, %v, want 1 with 2", apart, pairs, err)
	}
}

// cooldownWhileBusy: on a busy site two who just parted each meet someone else, never each
// other, for the whole cooldown.
func cooldownWhileBusy(t *testing.T, q match.Queue) {
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	mustRelease(t, q, 1, 2, t0)
	queueCrowd(t, q, t0, cooldownQueue, 1, 2, 3, 4)
	now := t0.Add(time.Minute - time.Millisecond)
	mustMatch(t, q, waiter(1, now), now, 0)
	mustMatch(t, q, waiter(2, now), now, 0)
	mustMatch(t, q, waiter(3, now), now, 1)
	mustMatch(t, q, waiter(4, now), now, 2)
}

// cooldownShrinksAsTheQueueEmpties: two kept apart while many wait meet as soon as the others
// have gone, if the shorter cooldown for those left is over.
func cooldownShrinksAsTheQueueEmpties(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	mustRelease(t, q, 1, 2, t0)
	crowd := queueCrowd(t, q, t0, cooldownQueue, 1, 2)
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 0)
	now := t0.Add(20 * time.Second)
	if pairs, _ := q.MatchWaiting(ctx, now); len(pairs) != 0 {
		t.Fatalf("pairs while %d others wait = %v, want none", cooldownQueue, pairs)
	}
	// One other left: a quarter of the minute, which is over.
	for _, id := range crowd[1:] {
		if _, err := q.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	pairs, err := q.MatchWaiting(ctx, now)
	if err != nil || len(pairs) != 1 || pairs[0].A.AccountID != 1 || pairs[0].B.AccountID != 2 {
		t.Fatalf("MatchWaiting with one other left = %v, %v, want 1 with 2", pairs, err)
	}
}

// queueCrowd queues n waiters, from id 100 on, that can pair with nobody: not with each other
// nor with the accounts apart. It returns their ids.
func queueCrowd(t *testing.T, q match.Queue, now time.Time, n int, apart ...int64) []int64 {
	t.Helper()
	ctx := context.Background()
	var crowd []int64
	for i := range int64(n) {
		id := 100 + i
		for _, other := range slices.Concat(crowd, apart) {
			if err := q.Block(ctx, id, other); err != nil {
				t.Fatal(err)
			}
		}
		mustMatch(t, q, waiter(id, now), now, 0)
		crowd = append(crowd, id)
	}
	return crowd
}

func mustRelease(t *testing.T, q match.Queue, a, b int64, at time.Time) {
	t.Helper()
	if err := q.Release(context.Background(), a, b, at); err != nil {
		t.Fatalf("Release(%d, %d): %v", a, b, err)
	}
}

func blockedForGood(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0), t0, 1)
	if err := q.Block(ctx, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, 1, 2, t0); err != nil {
		t.Fatal(err)
	}
	mustMatch(t, q, waiter(1, t0.Add(time.Second)), t0.Add(time.Second), 0)
	mustMatch(t, q, waiter(2, t0.Add(24*time.Hour)), t0.Add(24*time.Hour), 0)
}

func cancelAndForget(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0), t0, 0)
	if ok, err := q.Cancel(ctx, 1); !ok || err != nil {
		t.Fatalf("Cancel(1) = %v, %v, want true", ok, err)
	}
	if ok, _ := q.Cancel(ctx, 1); ok {
		t.Fatal("second Cancel(1) = true, want false")
	}
	mustMatch(t, q, waiter(2, t0), t0, 0)
	mustMatch(t, q, waiter(3, t0), t0, 2)
	if err := q.Forget(ctx, 2); err != nil {
		t.Fatal(err)
	}
	mustMatch(t, q, waiter(3, t0.Add(time.Second)), t0.Add(time.Second), 0)
	mustMatch(t, q, waiter(2, t0.Add(time.Second)), t0.Add(time.Second), 3)
}

func requeueKeepsPlace(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, waiter(1, t0), t0, 0)
	mustMatch(t, q, waiter(2, t0.Add(time.Second)), t0.Add(time.Second), 1)
	if err := q.Release(ctx, 1, 2, t0); err != nil {
		t.Fatal(err)
	}
	if err := q.Requeue(ctx, from("home", waiter(1, t0))); err != nil {
		t.Fatal(err)
	}
	w, _ := q.Waiting(ctx)
	if len(w) != 1 || w[0].AccountID != 1 || !w[0].Since.Equal(t0) || w[0].Client != "home" {
		t.Fatalf("queue = %v, want 1 from home back since %v", w, t0)
	}
}

func distinctClientsWaitForOthers(t *testing.T, q match.Queue) {
	mustMatch(t, q, from("home", waiter(1, t0)), t0, 0)
	now := t0.Add(time.Second)
	mustMatch(t, q, from("home", waiter(2, now)), now, 0)
	p := mustMatch(t, q, from("office", waiter(3, now)), now, 1)
	if p.B.Client != "home" || p.A.Client != "office" {
		t.Errorf("pair clients = %q with %q, want office with home", p.A.Client, p.B.Client)
	}
	// An unknown client is nobody's: two of them pair, and either pairs with a known one.
	mustMatch(t, q, waiter(4, now), now, 2)
	mustMatch(t, q, waiter(5, now), now, 0)
	mustMatch(t, q, waiter(6, now), now, 5)
}

// distinctClientsAfterTheInterestWindow: the waiters MatchWaiting pairs come from two clients
// too, however long they wait.
func distinctClientsAfterTheInterestWindow(t *testing.T, q match.Queue) {
	ctx := context.Background()
	mustMatch(t, q, from("home", waiter(1, t0, "go")), t0, 0)
	mustMatch(t, q, from("home", waiter(2, t0, "go")), t0, 0)
	mustMatch(t, q, from("home", waiter(3, t0, "rust")), t0, 0)
	mustMatch(t, q, from("office", waiter(4, t0, "chess")), t0, 0)
	pairs, err := q.MatchWaiting(ctx, t0.Add(time.Hour))
	if err != nil || len(pairs) != 1 || pairs[0].A.AccountID != 1 || pairs[0].B.AccountID != 4 {
		t.Fatalf("MatchWaiting = %v, %v, want only 1 with 4", pairs, err)
	}
	w, _ := q.Waiting(ctx)
	if len(w) != 2 || w[0].AccountID != 2 || w[1].AccountID != 3 || w[0].Client != "home" {
		t.Errorf("queue = %v, want 2 and 3, both from home", w)
	}
}

func sameClientPairsByDefault(t *testing.T, q match.Queue) {
	mustMatch(t, q, from("home", waiter(1, t0)), t0, 0)
	p := mustMatch(t, q, from("home", waiter(2, t0)), t0, 1)
	if p.A.Client != "home" || p.B.Client != "home" {
		t.Errorf("pair clients = %q with %q, want home with home", p.A.Client, p.B.Client)
	}
}

// storm has many accounts match at once: nobody is paired twice or with itself, and at most
// one is left waiting.
func storm(t *testing.T, q match.Queue) {
	const n = 200
	paired, left := matchAtOnce(t, q, n, func(id int64) match.Waiter { return waiter(id, t0) })
	if len(paired)+len(left) != n || len(left) > 1 {
		t.Errorf("%d paired + %d waiting, want all %d paired but at most one", len(paired), len(left), n)
	}
}

// stormOfFewClients has many accounts from three clients match at once, with DistinctClients:
// no pair shares a client, and those left waiting all come from one client.
func stormOfFewClients(t *testing.T, q match.Queue) {
	const n = 200
	client := func(id int64) string { return fmt.Sprint("client", id%3) }
	paired, left := matchAtOnce(t, q, n, func(id int64) match.Waiter { return from(client(id), waiter(id, t0)) })
	for a, b := range paired {
		if client(a) == client(b) {
			t.Errorf("%d paired with %d, both from %s", a, b, client(a))
		}
	}
	for _, w := range left {
		if w.Client != left[0].Client {
			t.Errorf("left waiting: %d from %s and %d from %s, who could pair", left[0].AccountID, left[0].Client, w.AccountID, w.Client)
		}
	}
	if len(paired)+len(left) != n {
		t.Errorf("%d paired + %d waiting, want %d", len(paired), len(left), n)
	}
}

// matchAtOnce has n accounts, made by waiter, match at once, checks that nobody is paired twice
// or with itself, and returns who was paired with whom and who is left waiting.
func matchAtOnce(t *testing.T, q match.Queue, n int64, waiter func(id int64) match.Waiter) (map[int64]int64, []match.Waiter) {
	t.Helper()
	var (
		mu     sync.Mutex
		paired = make(map[int64]int64)
		wg     sync.WaitGroup
	)
	record := func(p match.Pair) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range []int64{p.A.AccountID, p.B.AccountID} {
			if other, dup := paired[id]; dup {
				t.Errorf("%d paired twice (with %d, then in %d-%d)", id, other, p.A.AccountID, p.B.AccountID)
			}
		}
		if p.A.AccountID == p.B.AccountID {
			t.Errorf("%d paired with itself", p.A.AccountID)
		}
		paired[p.A.AccountID], paired[p.B.AccountID] = p.B.AccountID, p.A.AccountID
	}
	for id := int64(1); id <= n; id++ {
		wg.Go(func() {
			w := waiter(id)
			p, ok, err := q.Match(context.Background(), w, w.Since)
			if err != nil {
				t.Error(err)
			}
			if ok {
				record(p)
			}
		})
	}
	wg.Wait()
	left, err := q.Waiting(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return paired, left
}
