package redistest

import (
	"net"
	"strings"
	"testing"
)

func TestServerStopRestart(t *testing.T) {
	s := Start(t)
	if reply, err := command(s.Addr, "SET", "k", "v"); err != nil || reply != "+OK" {
		t.Fatalf("SET = %q, %v", reply, err)
	}
	s.Stop()
	if _, err := command(s.Addr, "PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Restart(t)
	if reply, err := command(s.Addr, "GET", "k"); err != nil || reply != "$-1" {
		t.Fatalf("GET after restart = %q, %v, want nil: a restarted server is empty", reply, err)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	info, err := command(c.Addrs[0], "CLUSTER", "INFO")
	if err != nil || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("CLUSTER INFO = %q, %v, want 3 known nodes", info, err)
	}
}

// TestPortTaken: a server whose port was taken meanwhile is not mistaken for the one already
// answering there.
func TestPortTaken(t *testing.T) {
	first := Start(t)
	_, port, _ := net.SplitHostPort(first.Addr)
	dir := t.TempDir()
	second := &Server{Addr: first.Addr, dir: dir, args: []string{"--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", ""}}
	if err := second.run(lookPath(t, "redis-server")); err == nil {
		second.Stop()
		t.Fatal("a second server on a taken port was reported started")
	}
}

// TestSentinelGroupFailover: killing the group's master has the Sentinels promote a replica,
// which has what the master wrote before it died.
func TestSentinelGroupFailover(t *testing.T) {
	g := StartSentinelGroup(t)
	old := g.Master(t)
	if old != g.Servers[0] {
		t.Fatalf("master at start = %s, want %s", old.Addr, g.Servers[0].Addr)
	}
	if reply, err := command(old.Addr, "SET", "k", "v"); err != nil || reply != "+OK" {
		t.Fatalf("SET = %q, %v", reply, err)
	}
	if reply, err := command(old.Addr, "WAIT", "2", "5000"); err != nil || reply != ":2" {
		t.Fatalf("WAIT = %q, %v, want both replicas", reply, err)
	}
	old.Stop()
	master := g.WaitFailover(t, old)
	if reply, err := command(master.Addr, "GET", "k"); err != nil || reply != "v" {
		t.Errorf("GET on the new master = %q, %v, want v", reply, err)
	}
}
