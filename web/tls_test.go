package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCertFiles writes a new self-signed certificate named cn and its key to the two files,
// dated at, and returns the certificate's DER.
func writeCertFiles(t *testing.T, certFile, keyFile, cn string, at time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return der
}

// TestCertFilesReload: renewed certificate files are served from the next check on, and files
// that do not load leave the certificate in use, with an error in the log.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	start := time.Now()
	first := writeCertFiles(t, certFile, keyFile, "a.example", start.Add(-time.Hour))
	clock := start
	var logs bytes.Buffer
	f, err := loadCertFiles(certFile, keyFile, func() time.Time { return clock }, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := func() []byte {
		cert, err := f.certificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return cert.Certificate[0]
	}
	if !bytes.Equal(served(), first) {
		t.Fatal("the loaded certificate is not the one in the files")
	}

	renewed := writeCertFiles(t, certFile, keyFile, "b.example", start)
	clock = start.Add(certCheckEvery / 2)
	if !bytes.Equal(served(), first) {
		t.Error("the files were read again before certCheckEvery")
	}
	clock = start.Add(certCheckEvery)
	if !bytes.Equal(served(), renewed) {
		t.Error("the renewed certificate is not served after certCheckEvery")
	}

	if err := os.WriteFile(certFile, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(certFile, start.Add(time.Hour), start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock = start.Add(2 * certCheckEvery)
	if !bytes.Equal(served(), renewed) {
		t.Error("a certificate file that does not load replaced the one in use")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "keeping the certificate in use") {
		t.Errorf("log %q, want an error saying the certificate in use is kept", logs.String())
	}
}
