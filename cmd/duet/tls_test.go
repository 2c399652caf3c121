package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/config"
)

// testCert is a self-signed certificate made for a test, and a pool that trusts it.
type testCert struct {
	certPEM, keyPEM []byte
	pool            *x509.CertPool
}

func makeCert(t testing.TB, hosts ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		pool:    pool,
	}
}

func writeTestFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// noRedirects is an HTTP client that shows redirects instead of following them, and keeps no
// connections (so no goroutine outlives the test).
func noRedirects(tlsConfig *tls.Config) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
	}
}

// TestTLSFromFiles: with tls_cert and tls_key, two people chat over wss://, the page's
// endpoints answer over https://, plain ws:// is not served on that port, and http_listen
// redirects to https.
func TestTLSFromFiles(t *testing.T) {
	cert := makeCert(t, "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, certFile, cert.certPEM)
	writeTestFile(t, keyFile, cert.keyPEM)
	n := startTestNodeOf(t, func(c *config.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.HTTPListen = "127.0.0.1:0"
	})
	trusting := &tls.Config{RootCAs: cert.pool}

	dialer := &websocket.Dialer{TLSClientConfig: trusting, HandshakeTimeout: 5 * time.Second}
	url := "wss://" + n.Addr() + "/ws"
	ann, bob := dialWith(t, dialer, url), dialWith(t, dialer, url)
	ann.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "Ann"})
	ann.expect("CRT_ACCOUNT", 0)
	bob.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "Bob"})
	bob.expect("CRT_ACCOUNT", 0)
	ann.send(map[string]any{"cmd": "MATCH"})
	ann.expect("MATCH", 4)
	bob.send(map[string]any{"cmd": "MATCH"})
	sessionID := id(bob.expect("MATCH", 0), "sessionId")
	ann.expect("PUSH_SIGNAL", -1)
	bob.send(map[string]any{"cmd": "DIALOGUE", "requestId": "1", "sessionId": sessionID, "content": "over TLS"})
	bob.expect("DIALOGUE", 0)
	if got := ann.expect("PUSH_DIALOGUE", -1); got["content"] != "over TLS" {
		t.Errorf("got %v, want the message over TLS", got)
	}

	resp, err := noRedirects(trusting).Get("https://" + n.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("GET https /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET https /healthz: %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	if ws, _, err := websocket.DefaultDialer.Dial("ws://"+n.Addr()+"/ws", nil); err == nil {
		ws.Close()
		t.Error("plain ws:// on the TLS port opened a connection")
	}

	resp, err = noRedirects(nil).Get("http://" + n.plainAt.Addr().String() + "/admin/reports?x=1")
	if err != nil {
		t.Fatalf("GET http_listen: %v", err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(n.Addr())
	if want := "https://127.0.0.1:" + port + "/admin/reports?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("GET http_listen: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestTLSAutocert: with tls_autocert_domains, the node serves the certificate that autocert
// holds in its cache for a listed domain, refuses any other name without asking the
// authority, and leaves ACME challenges on http_listen to autocert while redirecting the rest.
// No ACME authority runs here (the directory is an unreachable address), so the certificate is
// put in the cache as autocert would have stored it; getting one from an authority is
// autocert's own, tested, work.
func TestTLSAutocert(t *testing.T) {
	const domain = "duet.example"
	cert := makeCert(t, domain)
	cache := filepath.Join(t.TempDir(), "autocert")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(cache, domain), append(cert.keyPEM, cert.certPEM...)) // autocert's cache entry
	n := startTestNodeOf(t, func(c *config.Config) {
		c.TLSAutocertDomains = []string{domain}
		c.TLSAutocertCache = cache
		c.TLSAutocertDirectory = "https://127.0.0.1:1/directory"
		c.HTTPListen = "127.0.0.1:0"
	})

	resp, err := noRedirects(&tls.Config{RootCAs: cert.pool, ServerName: domain}).Get("https://" + n.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("GET https /healthz as %s: %v", domain, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET https /healthz as %s: %d, want 200", domain, resp.StatusCode)
	}
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: cert.pool, ServerName: domain}}
	c := dialWith(t, dialer, "wss://"+n.Addr()+"/ws")
	c.send(map[string]any{"cmd": "PING"})
	c.expect("PONG", -1)

	if _, err := noRedirects(&tls.Config{InsecureSkipVerify: true, ServerName: "other.example"}).Get("https://" + n.Addr() + "/healthz"); err == nil {
		t.Error("a TLS handshake for a name not in tls_autocert_domains succeeded")
	}

	plain := "http://" + n.plainAt.Addr().String()
	req, _ := http.NewRequest(http.MethodGet, plain+"/.well-known/acme-challenge/some-token", nil)
	req.Host = domain
	resp, err = noRedirects(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusPermanentRedirect || resp.StatusCode == http.StatusOK {
		t.Errorf("an unknown ACME challenge on http_listen: %d, want autocert to refuse it", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, plain+"/", nil)
	req.Host = domain
	resp, err = noRedirects(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(n.Addr())
	if want := "https://" + domain + ":" + port + "/"; resp.Header.Get("Location") != want {
		t.Errorf("GET / on http_listen: %d to %q, want a redirect to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestTLSBadFiles: certificate files that do not load stop the start with an error naming the
// settings.
func TestTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	writeTestFile(t, bad, []byte("not a certificate"))
	for name, files := range map[string][2]string{
		"missing": {filepath.Join(dir, "none.pem"), bad},
		"garbage": {bad, bad},
	} {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.TLSCert, cfg.TLSKey = files[0], files[1]
		cfg.DataDir = t.TempDir()
		_, err := startNode(t.Context(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
		if err == nil || !strings.Contains(err.Error(), "tls_cert") {
			t.Errorf("%s: start = %v, want an error naming tls_cert", name, err)
		}
	}
}
