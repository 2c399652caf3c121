// Package redistest runs real redis-server processes for tests, on free loopback ports in
// temporary directories: a single server, or a Redis Cluster of three masters. Nothing here
// touches a Redis it did not start.
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
	bin := lookPath(t, "redis-server")
	var s *Server
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(freePort(t))
		s = &Server{Addr: net.JoinHostPort("127.0.0.1", port), dir: dir}
		s.args = append([]string{
			"--bind", "127.0.0.1", "--port", port, "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
			"--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log"),
		}, extraArgs...)
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
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	host, masterPort, _ := net.SplitHostPort(master.Addr)
	text := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nlogfile %s\nsentinel monitor duet %s %s 1\n",
		port, dir, filepath.Join(dir, "redis.log"), host, masterPort)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	sentinel := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, args: []string{conf, "--sentinel"}}
	if err := sentinel.run(lookPath(t, "redis-server")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sentinel.Stop)
	return &Sentinel{Master: master, Addr: sentinel.Addr, MasterName: "duet"}
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

// command sends one command in RESP and returns the reply: a simple reply's line, or a bulk
// reply's text. It is enough to probe a server without a client library.
func command(addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil {
		return "", fmt.Errorf("bad bulk reply %q", line)
	}
	if n < 0 {
		return line, nil // the nil bulk reply
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
