//go:build !linux && !darwin

package pipelines

// peakRSSMB is 0 where the process's peak resident set size is not read.
func peakRSSMB() float64 { return 0 }
