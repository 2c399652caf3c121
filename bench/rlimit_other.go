//go:build !unix

package bench

// checkFileLimit has no limit to check where there is no RLIMIT_NOFILE.
func checkFileLimit(int) error { return nil }
