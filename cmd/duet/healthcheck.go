package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/duetchat/duet/config"
)

// healthcheck asks a node on this machine whether it is alive (GET /healthz answers 200) and
// returns an error when it is not. It exists for the container image's HEALTHCHECK: the image
// holds nothing but the binary, so there is no shell or curl to ask with. By default it asks
// the node that the same settings (DUET_* variables, DUET_CONFIG) would start, on loopback.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duet healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "URL to GET; default: http://127.0.0.1:<port of listen>/healthz (https with TLS on listen)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: duet healthcheck [--url URL] [--timeout 3s]\n\nExits 0 when the node answers 200, 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	client := http.DefaultClient
	if *target == "" {
		cfg, err := config.Load(nil, getenv, io.Discard)
		if err != nil {
			return err
		}
		if *target, err = healthzURL(cfg.Listen, cfg.TLS()); err != nil {
			return err
		}
		if cfg.TLS() {
			// The node's certificate names the site, not the loopback address asked here; what
			// is checked is that this machine's node answers, so its certificate is not.
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", *target, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// healthzURL is the /healthz URL of a node listening on listen, over https with TLS: its own
// host, or loopback when it listens on every address.
func healthzURL(listen string, withTLS bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if withTLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}
