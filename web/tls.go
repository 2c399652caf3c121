package web

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLSOptions say where the node's certificate comes from: PEM files, or an ACME certificate
// authority (Let's Encrypt by default) for the listed domains.
type TLSOptions struct {
	CertFile, KeyFile string

	AutocertDomains   []string
	AutocertCache     string // directory of the issued certificates and the ACME account key
	AutocertEmail     string // contact of the ACME account; may be empty
	AutocertDirectory string // the ACME directory URL; empty: Let's Encrypt

	Now func() time.Time
	Log *slog.Logger
}

// TLS is how the node serves TLS: its server configuration and, for a plain-HTTP listener,
// the handler that answers ACME http-01 challenges (with autocert) and sends everything else
// to https.
type TLS struct {
	Config *tls.Config
	plain  func(fallback http.Handler) http.Handler
}

// NewTLS prepares TLS from o: it loads the certificate files, or makes the autocert manager and
// its cache directory, and fails when they cannot be used, naming the setting.
func NewTLS(o TLSOptions) (*TLS, error) {
	if len(o.AutocertDomains) > 0 {
		if err := os.MkdirAll(o.AutocertCache, 0o700); err != nil {
			return nil, fmt.Errorf("tls_autocert_cache: %w", err)
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.AutocertDomains...),
			Cache:      autocert.DirCache(o.AutocertCache),
			Email:      o.AutocertEmail,
		}
		if o.AutocertDirectory != "" {
			m.Client = &acme.Client{DirectoryURL: o.AutocertDirectory}
		}
		// The manager's configuration answers TLS-ALPN-01 challenges on this listener too.
		cfg := m.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		return &TLS{Config: cfg, plain: m.HTTPHandler}, nil
	}
	files, err := loadCertFiles(o.CertFile, o.KeyFile, o.Now, o.Log)
	if err != nil {
		return nil, err
	}
	return &TLS{
		Config: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: files.certificate},
		plain:  func(fallback http.Handler) http.Handler { return fallback },
	}, nil
}

// PlainHandler is the handler of the plain-HTTP listener: ACME challenges, if any, and a
// permanent redirect of every other request to the same host and path on https, at httpsPort
// (left out of the URL when it is 443).
func (t *TLS) PlainHandler(httpsPort string) http.Handler {
	return t.plain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host // no port
		}
		if host == "" {
			http.Error(w, "a Host header is needed", http.StatusBadRequest)
			return
		}
		if httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		}
		target := "https://" + host + r.URL.RequestURI()
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	}))
}

// certCheckEvery is how often the certificate files are checked for a new certificate.
const certCheckEvery = time.Minute

// certFiles serves the certificate of a PEM certificate file and key file, read again when
// either changes, so that a renewal (by certbot, say) takes effect without a restart. A pair
// that fails to load is logged and the certificate in use is kept.
type certFiles struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	mu       sync.Mutex // guards the following fields
	cert     *tls.Certificate
	modified [2]time.Time // of the files the certificate was read from
	checked  time.Time
}

func loadCertFiles(certFile, keyFile string, now func() time.Time, log *slog.Logger) (*certFiles, error) {
	f := &certFiles{certFile: certFile, keyFile: keyFile, now: now, log: log}
	modified, err := f.modTimes()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls_cert, tls_key: %w", err)
	}
	f.cert, f.modified, f.checked = &cert, modified, now()
	return f, nil
}

func (f *certFiles) modTimes() ([2]time.Time, error) {
	var times [2]time.Time
	for i, file := range []struct{ key, path string }{{"tls_cert", f.certFile}, {"tls_key", f.keyFile}} {
		info, err := os.Stat(file.path)
		if err != nil {
			return times, fmt.Errorf("%s: %w", file.key, err)
		}
		times[i] = info.ModTime()
	}
	return times, nil
}

// certificate is the tls.Config's GetCertificate.
func (f *certFiles) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= certCheckEvery {
		f.checked = now
		f.reload()
	}
	return f.cert, nil
}

// reload reads the files again if they changed. f.mu must be held.
func (f *certFiles) reload() {
	modified, err := f.modTimes()
	if err == nil && modified == f.modified {
		return
	}
	var cert tls.Certificate
	if err == nil {
		cert, err = tls.LoadX509KeyPair(f.certFile, f.keyFile)
	}
	if err != nil {
		// A renewal may be half written; the next check tries again.
		f.log.Error("the TLS certificate files changed but do not load; keeping the certificate in use",
			"tls_cert", f.certFile, "tls_key", f.keyFile, "err", err)
		return
	}
	f.cert, f.modified = &cert, modified
	f.log.Info("TLS certificate reloaded", "tls_cert", f.certFile)
}
