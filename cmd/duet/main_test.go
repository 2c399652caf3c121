package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommands(t *testing.T) {
	tests := map[string]struct {
		args       []string
		wantErr    error // nil, flag.ErrHelp, or errAny
		wantStdout string
		wantStderr string
	}{
		"version":         {args: []string{"version"}, wantStdout: "duet dev\n"},
		"help":            {args: []string{"help"}, wantStdout: "duet serve [flags]"},
		"no command":      {args: nil, wantErr: flag.ErrHelp, wantStderr: "Usage:"},
		"unknown command": {args: []string{"serv"}, wantErr: errAny, wantStderr: "Usage:"},
		"bad setting":     {args: []string{"serve", "--ping-interval", "-1s"}, wantErr: errAny},
		"serve help":      {args: []string{"serve", "-h"}, wantStderr: "DUET_PRESENCE_TIMEOUT"},
		"serve --help":    {args: []string{"serve", "--help"}, wantStderr: "--presence-timeout"},
		"bench help":      {args: []string{"bench", "-h"}, wantStderr: "Usage"},
		"--version":       {args: []string{"--version"}, wantStdout: "duet dev\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			switch {
			case tt.wantErr == nil && err != nil, tt.wantErr == errAny && err == nil,
				tt.wantErr == flag.ErrHelp && !errors.Is(err, flag.ErrHelp):
				t.Fatalf("run(%q) = %v, want %v", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) printed %q and %q, want %q and %q", tt.args, stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestBadSettingNamesTheKey(t *testing.T) {
	env := map[string]string{"DUET_MAX_SESSIONS": "many"}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "max_sessions") {
		t.Fatalf("run = %v, want an error naming max_sessions", err)
	}
}

func TestUnreadableSiteTextNamesTheKey(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "rules.txt")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--site-rules-file", missing}
	err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "site_rules_file") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("run = %v, want an error naming site_rules_file and the file", err)
	}
}
