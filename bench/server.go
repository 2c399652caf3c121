package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// CPUMeter tells the processor time a process has used since it started, user and system: the
// server under test, or the Redis it keeps its state in.
type CPUMeter interface {
	CPUTime(ctx context.Context) (time.Duration, error)
}

// ServerStats tells what the server under test consumes: the figures a Prometheus process
// collector also exports (process_resident_memory_bytes, process_cpu_seconds_total).
type ServerStats interface {
	// ResidentBytes is the server's resident memory now.
	ResidentBytes(ctx context.Context) (int64, error)
	CPUMeter
}

// ProcStatus reads the figures of a process on this machine from /proc/<pid>.
type ProcStatus struct{ PID int }

var _ ServerStats = ProcStatus{}

// ResidentBytes implements ServerStats with the VmRSS line of /proc/<pid>/status.
func (p ProcStatus) ResidentBytes(context.Context) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", p.PID)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("--pid: reading the server's memory: %w", err)
	}
	return parseVmRSS(data, path)
}

// CPUTime implements ServerStats with the utime and stime fields of /proc/<pid>/stat.
func (p ProcStatus) CPUTime(context.Context) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", p.PID)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("--pid: reading the server's processor time: %w", err)
	}
	return parseCPUTime(data, path)
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

// clockTick is the unit of the times in /proc/<pid>/stat: USER_HZ, 100 on every Linux.
const clockTick = 10 * time.Millisecond

// parseCPUTime adds utime and stime, the 14th and 15th fields of a /proc/<pid>/stat line. The
// 2nd, the command name in parentheses, may hold spaces, so fields are counted after it.
func parseCPUTime(stat []byte, path string) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("--pid: %s is not a process's stat line", path)
	}
	fields := bytes.Fields(stat[end+1:]) // from the 3rd field on
	if len(fields) < 13 {
		return 0, fmt.Errorf("--pid: %s is not a process's stat line", path)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("--pid: %s is not a process's stat line", path)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
