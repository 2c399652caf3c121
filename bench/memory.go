package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
)

// MemorySource tells how much memory the server under test holds.
type MemorySource interface {
	// ResidentBytes is the server's resident memory now.
	ResidentBytes(ctx context.Context) (int64, error)
}

// ProcStatus reads the resident memory (VmRSS) of a process on this machine from
// /proc/<pid>/status.
type ProcStatus struct{ PID int }

var _ MemorySource = ProcStatus{}

// ResidentBytes implements MemorySource.
func (p ProcStatus) ResidentBytes(context.Context) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", p.PID)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("--pid: reading the server's memory: %w", err)
	}
	return parseVmRSS(data, path)
}

// parseVmRSS finds the line "VmRSS:   1234 kB" of a /proc/<pid>/status file.
func parseVmRSS(status []byte, path string) (int64, error) {
	lines := bufio.NewScanner(bytes.NewReader(status))
	for lines.Scan() {
		rest, ok := bytes.CutPrefix(lines.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("--pid: %s has no VmRSS line in kB", path)
}
