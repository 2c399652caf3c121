//go:build !unix

package bench

// ownCPU is not read where there is no getrusage(2).
var ownCPU CPUMeter
