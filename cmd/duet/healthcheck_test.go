package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetchat/duet/config"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	alive := strings.TrimSuffix(strings.TrimPrefix(startTestNode(t, nil), "ws://"), "/ws")
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := gone.Addr().String()
	gone.Close()

	// A node that serves TLS with a certificate for its site's name: the check asks it over
	// https on loopback.
	cert := makeCert(t, "chat.example.org")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, certFile, cert.certPEM)
	writeTestFile(t, keyFile, cert.keyPEM)
	withTLS := startTestNodeOf(t, func(c *config.Config) { c.TLSCert, c.TLSKey = certFile, keyFile }).Addr()

	tests := map[string]struct {
		args    []string
		env     map[string]string
		healthy bool
	}{
		"the node of DUET_LISTEN": {env: map[string]string{"DUET_LISTEN": alive}, healthy: true},
		"--url of a live node":    {args: []string{"--url", "http://" + alive + "/healthz"}, healthy: true},
		"the node of DUET_LISTEN with TLS": {
			env:     map[string]string{"DUET_LISTEN": withTLS, "DUET_TLS_CERT": certFile, "DUET_TLS_KEY": keyFile},
			healthy: true,
		},
		"a node that answers 503":  {args: []string{"--url", sick.URL + "/healthz"}},
		"no node on the port":      {env: map[string]string{"DUET_LISTEN": closed}},
		"a bad setting":            {env: map[string]string{"DUET_LISTEN": "8080"}},
		"an unexpected argument":   {args: []string{"now"}, env: map[string]string{"DUET_LISTEN": alive}},
		"a URL that cannot be got": {args: []string{"--url", "ftp://" + alive}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if tt.healthy && (err != nil || stdout.String() != "ok\n") {
				t.Errorf("healthcheck = %v, printed %q; want nil and ok", err, stdout.String())
			}
			if !tt.healthy && err == nil {
				t.Errorf("healthcheck = nil, printed %q; want an error", stdout.String())
			}
		})
	}
}

func TestHealthzURL(t *testing.T) {
	tests := map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.0.0.5:9000":  "http://10.0.0.5:9000/healthz",
		"[::1]:9000":     "http://[::1]:9000/healthz",
		"localhost:8080": "http://localhost:8080/healthz",
	}
	for listen, want := range tests {
		if got, err := healthzURL(listen, false); err != nil || got != want {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if got, _ := healthzURL(":443", true); got != "https://127.0.0.1:443/healthz" {
		t.Errorf("healthzURL with TLS = %q, want https", got)
	}
}
