// Package redistest runs real redis-server processes for tests, on free loopback ports in
// temporary directories: a single server, a Redis Cluster of three masters, or a master with
// replicas under Sentinels. Nothing here touches a Redis it did not start.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server or a cluster may take to come up.
const startTimeout = 20 * time.Second

// Server is a running redis-server.
type Server struct {
	Addr   string // host:port
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
}

// URL is the server's redis_url.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// startAttempts is how often a server is started on another port when the one it was given
// was taken in the meantime by some other process.
const startAttempts = 5

// Start starts a redis-server on a free loopback port and stops it when the test ends.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return start(t, t.TempDir(), extraArgs)
}

func start(t testing.TB, dir string, extraArgs []string) *Server {
	t.Helper()
	return launch(t, dir, func(port string) []string {
		return append([]string{
			"--bind", "127.0.0.1", "--port", port, "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
			"--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log"),
		}, extraArgs...)
	})
}

// launch runs redis-server with the arguments args gives for a free loopback port, in dir, and
// stops it when the test ends, showing its log if the test failed.
func launch(t testing.TB, dir string, args func(port string) []string) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	var s *Server
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(freePort(t))
		s = &Server{Addr: net.JoinHostPort("127.0.0.1", port), dir: dir, args: args(port)}
		err := s.run(bin)
		if err == nil {
			break
		}
		if attempt == startAttempts {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Logf("redis-server %s log:\n%s", s.Addr, log)
		}
	})
	return s
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("redistest: %s is not installed; `make test` installs it (Debian package redis-server)", name)
	}
	return path
}

// run starts the server and waits until it answers, making sure that what answers on its
// address is this very process.
func (s *Server) run(bin string) error {
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Dir = s.dir
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redistest: starting redis-server: %w", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	ours := fmt.Sprintf("process_id:%d\r\n", s.cmd.Process.Pid)
	deadline := time.Now().Add(startTimeout)
	for {
		if info, err := command(s.Addr, "INFO", "server"); err == nil && strings.Contains(info, ours) {
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server on %s exited at start; its log:\n%s", s.Addr, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redistest: redis-server on %s did not answer within %v", s.Addr, startTimeout)
		}
	}
}

// Stop kills the server; a stopped server may be started again with Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts a stopped server again on the same port, with what it persisted, if anything.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.run(lookPath(t, "redis-server")); err != nil {
		t.Fatal(err)
	}
}

// Command sends one command to the server, as a test that plays an operator does (FLUSHALL),
// and returns its reply's text.
func (s *Server) Command(args ...string) (string, error) { return command(s.Addr, args...) }

// StartReplica starts a replica of master, with extraArgs, and waits until it is in sync; it
// stops it when the test ends.
func StartReplica(t testing.TB, master *Server, extraArgs ...string) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := Start(t, append(extraArgs, "--replicaof", host, port)...)
	waitFor(t, "replica "+replica.Addr+" in sync", func() (bool, string) {
		info, err := command(replica.Addr, "INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up"), info
	})
	return replica
}

// Cluster is a running Redis Cluster of three masters without replicas.
type Cluster struct {
	Addrs []string
}

// URL is the cluster's redis_url: its first node, and the others as seeds.
func (c *Cluster) URL() string {
	return "redis://" + c.Addrs[0] + "?addr=" + strings.Join(c.Addrs[1:], "&addr=")
}

// StartCluster creates a three-master Redis Cluster and stops it when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := lookPath(t, "redis-cli")
	var c Cluster
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s := start(t, dir, []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "2000"})
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	create := exec.Command(cli, args...)
	dieWithParent(create)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, addr := range c.Addrs {
		for {
			info, err := command(addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ok on %s within %v: %v %s", addr, startTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return &c
}

// Sentinel is a Redis server watched by one Sentinel.
type Sentinel struct {
	Master     *Server
	Addr       string // the Sentinel's host:port
	MasterName string
}

// URL is the redis_url of the Sentinel's master.
func (s *Sentinel) URL() string { return "redis://" + s.Addr + "?master_name=" + s.MasterName }

// StartSentinel starts a server and a Sentinel that monitors it as master "duet", and stops
// both when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	sentinel := startSentinel(t, master, 1, "")
	return &Sentinel{Master: master, Addr: sentinel.Addr, MasterName: "duet"}
}

// startSentinel starts a Sentinel that monitors master as "duet", with the quorum and the
// further lines of sentinel.conf given, and stops it when the test ends.
func startSentinel(t testing.TB, master *Server, quorum int, options string) *Server {
	t.Helper()
	dir := t.TempDir()
	host, masterPort, _ := net.SplitHostPort(master.Addr)
	return launch(t, dir, func(port string) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("bind 127.0.0.1\nport %s\ndir %s\nlogfile %s\nsentinel monitor duet %s %s %d\n%s",
			port, dir, filepath.Join(dir, "redis.log"), host, masterPort, quorum, options)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel"}
	})
}

// Failover timings of a SentinelGroup: a master that stops answering for downAfter is taken
// for down, and a replica replaces it within about a second more. Short, so that a test of a
// failover is quick; long enough that a loaded machine does not fail over for nothing.
const (
	downAfter       = time.Second
	failoverTimeout = 3 * time.Second
)

// SentinelGroup is a master with two replicas, all persisting to an append-only file, watched
// by three Sentinels that fail over to a replica when two of them find the master down.
type SentinelGroup struct {
	Servers    []*Server // the master at start first, then its replicas
	Sentinels  []*Server
	MasterName string
}

// URL is the group's redis_url: its first Sentinel, the others as further addresses, and the
// master's name.
func (g *SentinelGroup) URL() string {
	u := "redis://" + g.Sentinels[0].Addr + "?"
	for _, s := range g.Sentinels[1:] {
		u += "addr=" + s.Addr + "&"
	}
	return u + "master_name=" + g.MasterName
}

// StartSentinelGroup starts a master, two replicas in sync with it, and three Sentinels (quorum
// 2) that know each other and the replicas, so that a failover can happen at once; it stops
// them all when the test ends.
func StartSentinelGroup(t testing.TB) *SentinelGroup {
	t.Helper()
	g := &SentinelGroup{MasterName: "duet"}
	// Every server may become the master: each persists, and serves a replica at once rather
	// than waiting five seconds for more replicas to sync with in one go.
	common := []string{"--appendonly", "yes", "--repl-diskless-sync-delay", "0"}
	master := Start(t, common...)
	g.Servers = append(g.Servers, master)
	for range 2 {
		g.Servers = append(g.Servers, StartReplica(t, master, common...))
	}
	// Sentinels learn the replicas from the master's INFO when they connect, so they start
	// once the replicas are in sync.
	options := fmt.Sprintf("sentinel down-after-milliseconds duet %d\nsentinel failover-timeout duet %d\n",
		downAfter.Milliseconds(), failoverTimeout.Milliseconds())
	for range 3 {
		g.Sentinels = append(g.Sentinels, startSentinel(t, master, 2, options))
	}
	for _, s := range g.Sentinels {
		waitFor(t, "Sentinel "+s.Addr+" to know the others and the replicas", func() (bool, string) {
			fields, err := sentinelMaster(s.Addr)
			return err == nil && fields["num-other-sentinels"] == "2" && fields["num-slaves"] == "2", fmt.Sprint(fields, err)
		})
	}
	return g
}

// Master is the server that the Sentinels name master now, and that says it is one.
func (g *SentinelGroup) Master(t testing.TB) *Server {
	t.Helper()
	var master *Server
	waitFor(t, "the Sentinels to agree on a master", func() (bool, string) {
		master = g.master()
		return master != nil, ""
	})
	return master
}

// WaitFailover waits until the Sentinels have replaced old with a replica that has taken the
// role of master, and returns it.
func (g *SentinelGroup) WaitFailover(t testing.TB, old *Server) *Server {
	t.Helper()
	var master *Server
	waitFor(t, "a failover from "+old.Addr, func() (bool, string) {
		master = g.master()
		return master != nil && master != old, ""
	})
	return master
}

// HoldReplication makes the replicas fall behind master until release is called: they are
// stopped (SIGSTOP), and master is given more for them than the network buffers between them
// hold, so that whatever master acknowledges next stays in its own memory, where its death
// loses it. Release soon: a replica stopped for longer than a second is taken for down.
func (g *SentinelGroup) HoldReplication(t testing.TB, master *Server) (release func()) {
	t.Helper()
	var held []*Server
	release = func() {
		for _, s := range held {
			_ = s.cmd.Process.Signal(syscall.SIGCONT)
		}
		held = nil
	}
	t.Cleanup(release)
	for _, s := range g.Servers {
		if s != master && s.cmd != nil {
			if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			held = append(held, s)
		}
	}
	// Loopback buffers hold a few MiB each way; a replica's output buffer may hold 64 MiB.
	filler := strings.Repeat("x", 4<<20)
	for i := range 8 {
		// A busy machine may take a while to append 4 MiB to the append-only file.
		if reply, err := commandWithin(10*time.Second, master.Addr, "SET", "redistest:filler:"+strconv.Itoa(i), filler); err != nil || reply != "+OK" {
			t.Fatalf("redistest: filling the replication stream: %q, %v", reply, err)
		}
	}
	return release
}

// master is the server that every Sentinel names master and whose INFO says it is one, or nil.
func (g *SentinelGroup) master() *Server {
	var named string
	for _, s := range g.Sentinels {
		reply, err := command(s.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.MasterName)
		addr := strings.Join(strings.Split(reply, "\n"), ":")
		if err != nil || named != "" && addr != named {
			return nil
		}
		named = addr
	}
	for _, server := range g.Servers {
		if server.Addr != named {
			continue
		}
		if info, err := command(server.Addr, "INFO", "replication"); err == nil && strings.Contains(info, "role:master") {
			return server
		}
	}
	return nil
}

// sentinelMaster is what the Sentinel at addr knows of master "duet", field by field.
func sentinelMaster(addr string) (map[string]string, error) {
	reply, err := command(addr, "SENTINEL", "MASTER", "duet")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(reply, "\n")
	fields := make(map[string]string, len(parts)/2)
	for i := 0; i+1 < len(parts); i += 2 {
		fields[parts[i]] = parts[i+1]
	}
	return fields, nil
}

// waitFor polls cond until it holds, failing the test after startTimeout with what cond last
// reported.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %v for %s; last seen: %s", startTimeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// command sends one command in RESP and returns the reply: a simple reply's line, a bulk
// reply's text, or an array reply's elements one a line. It is enough to probe a server without
// a client library.
func command(addr string, args ...string) (string, error) {
	return commandWithin(time.Second, addr, args...)
}

// commandWithin is command given a deadline of its own.
func commandWithin(timeout time.Duration, addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one RESP reply as command returns it.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") && !strings.HasPrefix(line, "*") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil {
		return "", fmt.Errorf("bad reply %q", line)
	}
	if n < 0 {
		return line, nil // the nil reply
	}
	if line[0] == '*' {
		elems := make([]string, n)
		for i := range elems {
			if elems[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(elems, "\n"), nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
