package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// duetBin is the server binary built once by TestMain.
var duetBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "duet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: finding the module root:", err)
		return 1
	}
	duetBin = filepath.Join(dir, "duet")
	build := exec.Command("go", "build", "-race", "-o", duetBin, "./cmd/duet")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the server:", err)
		return 1
	}
	raiseParallelism(8)
	return m.Run()
}

// raiseParallelism lets n tests run at once unless -test.parallel was given: a test here
// spends its time waiting on timers and on its server's shutdown, not on the CPU, so the
// default (GOMAXPROCS) would make the suite needlessly slow on a small machine.
func raiseParallelism(n int) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && runtime.GOMAXPROCS(0) < n {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// server is one running `duet serve` process.
type server struct {
	t    testing.TB
	addr string
	cmd  *exec.Cmd
	logs *logWriter

	stopOnce sync.Once
	exitErr  error
}

// rateLimitExempt exempts every loopback client from rate limits; tests that are not about
// rate limits pass it so that they can send as much as they need.
var rateLimitExempt = []string{"--rate-limit-exempt", "127.0.0.0/8"}

// startServer starts a server with the given flags, exempt from rate limits.
func startServer(t testing.TB, flags ...string) *server {
	t.Helper()
	return startServerRaw(t, append(append([]string{}, rateLimitExempt...), flags...)...)
}

// engineEnv names the environment variable that runs the suite on another engine: with
// DUET_E2E_ENGINE=redis, every server that a test does not set up itself gets a redis-server of
// its own and the redis engine, so that everything proven on the memory engine is proven there.
const engineEnv = "DUET_E2E_ENGINE"

// startServerRaw starts a server with exactly the given flags (rate limits apply).
func startServerRaw(t testing.TB, flags ...string) *server {
	t.Helper()
	// No drain at shutdown unless a test asks: a test's server has no load balancer to wait for.
	args := []string{"serve", "--listen", "127.0.0.1:0", "--drain-delay", "0s", "--drain-spread", "0s"}
	if os.Getenv(engineEnv) == "redis" && !slices.Contains(flags, "--engine") {
		args = append(args, "--engine", "redis", "--redis-url", redistest.Start(t).URL())
	}
	if !slices.Contains(flags, "--data-dir") {
		args = append(args, "--data-dir", t.TempDir()) // a directory of its own, like a node of its own
	}
	args = append(args, flags...)
	cmd := exec.Command(duetBin, args...)
	logs := newLogWriter()
	cmd.Stdout = logs
	cmd.Stderr = logs
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", strings.Join(args, " "), err)
	}
	s := &server{t: t, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log (duet %s):\n%s", strings.Join(args, " "), logs.String())
		}
	})
	select {
	case s.addr = <-logs.addr:
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not log `duet is serving` within 20s; log:\n%s", logs.String())
	}
	return s
}

// stop sends SIGTERM and waits for the process; it must exit 0 (a data race exits 66).
func (s *server) stop() {
	s.t.Helper()
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case s.exitErr = <-done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			s.exitErr = errors.New("did not exit within 20s of SIGTERM (killed)")
		}
		if s.exitErr != nil {
			s.t.Errorf("server exit after SIGTERM: got %v, want exit status 0", s.exitErr)
		}
		if strings.Contains(s.logs.String(), "DATA RACE") {
			s.t.Errorf("server reported a data race")
		}
	})
}

func (s *server) wsURL() string   { return "ws://" + s.addr + "/ws" }
func (s *server) httpURL() string { return "http://" + s.addr }

// logWriter keeps the server's output and reports the listen address once it is logged.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	addr    chan string
	found   bool
}

var servingAddr = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

func newLogWriter() *logWriter { return &logWriter{addr: make(chan string, 1)} }

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if !w.found && strings.Contains(line, `msg="duet is serving"`) {
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				w.found = true
				w.addr <- m[1]
			}
		}
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// httpGet fetches a path of the server with a timeout.
func httpGet(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, body.Bytes()
}
