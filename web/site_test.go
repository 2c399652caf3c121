package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSiteText(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for name, tt := range map[string]struct {
		path, want, problem string
	}{
		"none":        {"", "", ""},
		"text":        {file("rules.txt", "\r\nBe kind.\r\n\r\n- No spam\r\n- No hate\r\n"), "Be kind.\n\n- No spam\n- No hate", ""},
		"missing":     {filepath.Join(dir, "nothing.txt"), "", "no such file"},
		"empty":       {file("empty.txt", " \n\n"), "", "is empty"},
		"not UTF-8":   {file("latin1.txt", "Gr\xfc\xdfe"), "", "not UTF-8"},
		"too large":   {file("large.txt", strings.Repeat("x", MaxSiteText+1)), "", "larger than 64 KiB"},
		"just enough": {file("full.txt", strings.Repeat("x", MaxSiteText)), strings.Repeat("x", MaxSiteText), ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ReadSiteText(tt.path)
			if tt.problem == "" && (err != nil || got != tt.want) {
				t.Errorf("ReadSiteText = %.40q, %v; want %.40q", got, err, tt.want)
			}
			if tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)) {
				t.Errorf("ReadSiteText = %.40q, %v; want an error saying %q", got, err, tt.problem)
			}
		})
	}
}
