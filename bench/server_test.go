package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tduet\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\nThreads:\t7\n"
	if got, err := parseVmRSS([]byte(status), "status"); err != nil || got != 2048*1024 {
		t.Errorf("parseVmRSS = %d, %v, want %d", got, err, 2048*1024)
	}
	for _, bad := range []string{"Name:\tduet\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := parseVmRSS([]byte(bad), "status"); err == nil || !strings.Contains(err.Error(), "VmRSS") {
			t.Errorf("parseVmRSS(%q) = %v, want an error about VmRSS", bad, err)
		}
	}
}

func TestParseCPUTime(t *testing.T) {
	stat := "4242 (duet serve (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 9 0 1000 2000000 3000\n"
	if got, err := parseCPUTime([]byte(stat), "stat"); err != nil || got != 3800*time.Millisecond {
		t.Errorf("parseCPUTime = %v, %v, want 3.8s (250 + 130 ticks)", got, err)
	}
	for _, bad := range []string{"", "4242 (duet) S 1 2 3", "4242 (duet) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 130 0"} {
		if _, err := parseCPUTime([]byte(bad), "stat"); err == nil {
			t.Errorf("parseCPUTime(%q) succeeded, want an error", bad)
		}
	}
}
