package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImage builds the container image with `make image` and runs it with podman as an
// operator would: it must start as a non-root user, serve the embedded page, pass its own
// HEALTHCHECK, carry a chat between two people, and stop cleanly on SIGTERM.
//
// It does not run in parallel: building the static binary and the image keeps both cores busy
// for a while, which would throw out the timing of the tests around it.
func TestImage(t *testing.T) {
	onceOnly(t)
	pm := newPodman(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	const image = "localhost/duet:e2e"
	build := exec.Command("make", "image", "IMAGE="+image, "CONTAINER="+strings.Join(pm.command(), " "))
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}

	name := fmt.Sprintf("duet-e2e-%d", os.Getpid())
	pm.run(t, append([]string{"run", "--detach", "--name", name, "--publish", "127.0.0.1::8080"}, append(pm.ulimits(), image)...)...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := pm.cmd("logs", name).CombinedOutput()
			t.Logf("container log:\n%s", logs)
		}
		_ = pm.cmd("rm", "--force", "--time", "0", name).Run()
	})
	port := strings.TrimSpace(pm.run(t, "port", name, "8080/tcp"))
	base := "http://" + port
	waitUp(t, base+"/readyz", 30*time.Second)

	var inspected []struct {
		Config struct {
			User        string
			Healthcheck struct{ Test []string }
		}
	}
	if err := json.Unmarshal([]byte(pm.run(t, "inspect", name)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman inspect %s: %v", name, err)
	}
	if user := inspected[0].Config.User; user == "" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root") {
		t.Errorf("the container runs as %q, want a non-root user", user)
	}
	if test := strings.Join(inspected[0].Config.Healthcheck.Test, " "); !strings.Contains(test, "healthcheck") {
		t.Errorf("the image's HEALTHCHECK is %q, want duet healthcheck", test)
	}
	// Without systemd podman runs no health checks by itself; run the image's one now.
	if out, err := pm.cmd("healthcheck", "run", name).CombinedOutput(); err != nil {
		t.Errorf("podman healthcheck run: %v\n%s", err, out)
	}

	resp, page := httpGet(t, base+"/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `<div id="app">`) {
		t.Errorf("GET /: status %d, body %.200q; want the built page", resp.StatusCode, page)
	}

	ws := "ws://" + port + "/ws"
	ann, bob := dialURL(t, &dialer, ws, seedDialect, "Ann", nil), dialURL(t, &dialer, ws, reqDialect, "Bob", nil)
	ann.createAccount("Ann")
	bob.createAccount("Bob")
	sid := pair(t, ann, bob)
	ann.sayTo(bob, sid, "hello from a container")
	bob.sayTo(ann, sid, "hello back")

	pm.run(t, "stop", "--time", "20", name)
	ann.wantClosed(1001)
	if code := strings.TrimSpace(pm.run(t, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code after SIGTERM: %s, want 0", code)
	}
}

// onceOnly skips a test that sets up its own engines in the suite's second pass (DUET_E2E_ENGINE),
// which would run it again unchanged.
func onceOnly(t *testing.T) {
	t.Helper()
	if os.Getenv(engineEnv) != "" {
		t.Skipf("runs once, in the suite's first pass, not again with %s", engineEnv)
	}
}

// podman runs Debian's podman on a store of the test's own, so that the test neither needs nor
// touches the machine's images, with settings that work in a container or a VM too: the vfs
// storage driver (overlay inside overlay often fails), runc (crun refuses hosts that mount
// cgroup v1 and v2 side by side) and resource limits no higher than the test's own (raising
// them needs a capability that sandboxes drop).
type podman struct {
	global []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed; `make deps` installs it")
	}
	// A short path: podman puts sockets under the run root, and a socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "pm")
	if err != nil {
		t.Fatal(err)
	}
	pm := &podman{global: []string{"--root", dir + "/root", "--runroot", dir + "/run", "--storage-driver", "vfs"}}
	if _, err := exec.LookPath("runc"); err == nil {
		pm.global = append(pm.global, "--runtime", "runc")
	}
	t.Cleanup(func() {
		_ = pm.cmd("rm", "--all", "--force", "--time", "0").Run()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing podman's store: %v", err)
		}
	})
	return pm
}

// command is the podman command line with the test's global flags.
func (pm *podman) command() []string { return append([]string{"podman"}, pm.global...) }

func (pm *podman) cmd(args ...string) *exec.Cmd {
	return exec.Command("podman", append(append([]string{}, pm.global...), args...)...)
}

// run runs podman with args and returns its standard output; it fails the test on an error.
func (pm *podman) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := pm.cmd(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// ulimits are the container's open-file limit (the test's own) and process limit (plenty for a
// node's threads), both within what the test may set without privileges.
func (pm *podman) ulimits() []string {
	var files syscall.Rlimit
	nofile := uint64(1024)
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &files); err == nil {
		nofile = files.Max
	}
	return []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile, nofile), "--ulimit", "nproc=4096:4096"}
}

// waitUp polls a URL until it answers 200, through the refused connections of a start.
func waitUp(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %v: %v", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
