package e2e

import (
	"testing"
	"time"
)

// TestOnlineCountIncludesNewVisitor: the page's /online.json counts a visitor who has just
// started and is waiting, within the count's few seconds of caching, not one board post later.
// The nodes post their figures every ping interval, here made long so that only a live count
// of this node's own accounts can pass.
func TestOnlineCountIncludesNewVisitor(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--ping-interval", "30s", "--presence-timeout", "90s")
	ann := newUser(t, s, seedDialect, "Ann")
	wantCode(t, ann.match(), 4)
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, body := httpGet(t, s.httpURL()+"/online.json")
		f := parseFrame(body)
		online, _ := f.int("online")
		waiting, _ := f.int("waiting")
		if resp.StatusCode == 200 && online == 1 && waiting == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/online.json while Ann waits: %d %s, want 1 online, 1 waiting", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
