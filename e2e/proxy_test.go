package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/redisengine/redistest"
)

// proxy is a reverse proxy that a test started in front of its nodes.
type proxy struct {
	base string      // http(s)://127.0.0.1:port of the public site
	tls  *tls.Config // how a client trusts the site's certificate; nil over plain HTTP
}

// TestBehindProxy runs the proxy examples of deploy/ as docs/deploy.md sets them up: two
// nodes on one Redis, each trusting the proxy, behind nginx (with TLS) and Caddy. Through the
// proxy, people on different nodes chat, new WebSockets are spread over the nodes, and each
// client is known by its own address, whatever it writes in X-Forwarded-For: a ban of one
// client's address cuts off that client and nobody else.
func TestBehindProxy(t *testing.T) {
	t.Parallel()
	onceOnly(t)
	for name, start := range map[string]func(t *testing.T, nodes []string) proxy{
		"nginx": startNginx,
		"caddy": startCaddy,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			redis := redistest.Start(t)
			var nodes []*server
			var addrs []string
			for range 2 {
				n := startServerRaw(t, append([]string{"--engine", "redis", "--redis-url", redis.URL(), "--trusted-proxies", "127.0.0.1/32"}, withAdmin...)...)
				nodes, addrs = append(nodes, n), append(addrs, n.addr)
			}
			p := start(t, addrs)
			waitUpVia(t, p, p.base+"/readyz", 20*time.Second)
			if status := getVia(t, p, p.base+"/metrics"); status != http.StatusNotFound {
				t.Errorf("GET /metrics through the proxy: status %d, want 404 (Prometheus scrapes the nodes directly)", status)
			}
			wsURL := "ws" + strings.TrimPrefix(p.base, "http") + "/ws"

			// Ann claims to be someone else; the proxy appends her real address.
			ann := dialVia(t, p, wsURL, "127.0.0.2", "Ann", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
			bob := dialVia(t, p, wsURL, "127.0.0.3", "Bob", nil)
			ann.createAccount("Ann")
			bob.createAccount("Bob")
			sid := pair(t, ann, bob)
			ann.sayTo(bob, sid, "hello through the proxy")
			bob.sayTo(ann, sid, "hello back")
			for i, n := range nodes {
				if got := scrape(t, n)["duet_connections"]; got != 1 {
					t.Errorf("node %d holds %v connections, want 1: the proxy should spread them", i, got)
				}
			}

			nodes[0].wantAdmin(t, 201, "POST", "/admin/api/bans", map[string]any{
				"kind": "address", "accountId": ann.id, "duration": "1h", "reason": "spam",
			})
			ann.waitFor("Kicked", waitTimeout, isKicked)
			again := dialVia(t, p, wsURL, "127.0.0.2", "Ann with another claim", http.Header{"X-Forwarded-For": {"198.51.100.7"}})
			wantKicked(t, again)
			bob.waitSignal("PartnerAway")
			cid := dialVia(t, p, wsURL, "127.0.0.4", "Cid", nil)
			cid.createAccount("Cid")
		})
	}
}

// dialVia opens a WebSocket through the proxy from a local address of the loopback network,
// as a browser on the site's page would (with its Origin).
func dialVia(t testing.TB, p proxy, url, from, name string, h http.Header) *client {
	t.Helper()
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		TLSClientConfig:  p.tls,
		NetDial: func(network, addr string) (net.Conn, error) {
			return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial(network, addr)
		},
	}
	if h == nil {
		h = http.Header{}
	}
	h.Set("Origin", p.base)
	return dialURL(t, &d, url, seedDialect, name+" from "+from, h)
}

// waitUpVia polls a URL of the proxy until it answers 200.
func waitUpVia(t *testing.T, p proxy, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		status, err := p.get(url)
		if err == nil && status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %v: status %d, %v", url, timeout, status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// getVia fetches a URL of the proxy and returns the status.
func getVia(t *testing.T, p proxy, url string) int {
	t.Helper()
	status, err := p.get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return status
}

func (p proxy) get(url string) (int, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: p.tls}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startNginx runs deploy/nginx/duet.conf in front of the nodes, with its ports, upstreams and
// certificate swapped for the test's. `nginx -t` must accept it first.
func startNginx(t *testing.T, nodes []string) proxy {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if nginx, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx is not installed; `make deps` installs it")
		}
	}
	dir := proxyDir(t)
	cert, key, pool := selfSigned(t, dir)
	port := freePort(t)
	example := readExample(t, "deploy/nginx/duet.conf")
	conf := rewrite(t, example, []replacement{
		{`(?m)^(\s*server )127\.0\.0\.1:8081( .*;)$`, "${1}" + nodes[0] + "${2}"},
		{`(?m)^(\s*server )127\.0\.0\.1:8082( .*;)$`, "${1}" + nodes[1] + "${2}"},
		{`(?m)^\s*listen 80;$`, fmt.Sprintf("    listen 127.0.0.1:%d;", freePort(t))},
		{`(?m)^\s*listen 443 ssl http2;$`, fmt.Sprintf("    listen 127.0.0.1:%d ssl http2;", port)},
		{`(?m)^\s*listen \[::\]:(80|443 ssl http2);\n`, ""},
		{`/etc/letsencrypt/live/chat\.example\.org/fullchain\.pem`, cert},
		{`/etc/letsencrypt/live/chat\.example\.org/privkey\.pem`, key},
	})
	writeFile(t, filepath.Join(dir, "duet.conf"), conf)
	main := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[1]s/duet.conf;
}
`, dir)
	writeFile(t, filepath.Join(dir, "nginx.conf"), main)
	args := []string{"-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf")}
	if out, err := exec.Command(nginx, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the example: %v\n%s", err, out)
	}
	runProxy(t, exec.Command(nginx, append(args, "-g", "daemon off;")...), syscall.SIGQUIT, filepath.Join(dir, "error.log"))
	return proxy{base: fmt.Sprintf("https://127.0.0.1:%d", port), tls: &tls.Config{RootCAs: pool}}
}

// startCaddy runs deploy/caddy/Caddyfile as it is, with its settings in the environment:
// plain HTTP on a free port (a certificate is Caddy's business, not the example's).
func startCaddy(t *testing.T, nodes []string) proxy {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy is not installed; `make deps` installs it")
	}
	dir := proxyDir(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	caddyfile := filepath.Join(readExampleDir(t), "deploy/caddy/Caddyfile")
	cmd := exec.Command(caddy, "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"DUET_DOMAIN="+base, "DUET_UPSTREAMS="+strings.Join(nodes, " "),
		fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", freePort(t)),
		"HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	logPath := filepath.Join(dir, "caddy.log")
	runProxy(t, cmd, syscall.SIGTERM, logPath)
	return proxy{base: base}
}

// runProxy starts a proxy, logging to logPath (shown when the test fails), and stops it with
// sig when the test ends.
func runProxy(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, logPath string) {
	t.Helper()
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logs.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(cmd.Path), out)
		}
	})
}

// proxyDir is a directory for a proxy's files that its unprivileged workers can use too.
func proxyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir, and returns their paths
// and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// replacement is a change a test makes to an example: every match of pattern becomes with.
type replacement struct{ pattern, with string }

// rewrite applies the replacements to text; each must match, so that a changed example fails
// loudly here rather than being tested half-swapped.
func rewrite(t *testing.T, text string, rs []replacement) string {
	t.Helper()
	for _, r := range rs {
		re := regexp.MustCompile(r.pattern)
		if !re.MatchString(text) {
			t.Fatalf("the example has nothing matching %s", r.pattern)
		}
		text = re.ReplaceAllString(text, r.with)
	}
	return text
}

func readExampleDir(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readExample reads a file of the repository.
func readExample(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(readExampleDir(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
