//go:build linux || darwin

package pipelines

import (
	"runtime"
	"syscall"
)

// peakRSSMB is this process's peak resident set size in MiB (getrusage's ru_maxrss: KiB on
// Linux, bytes on macOS), or 0 when it cannot be read.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / (1 << 10)
}
