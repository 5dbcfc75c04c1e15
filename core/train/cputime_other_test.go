//go:build !unix

package train

import "time"

// cpuTime is not measured on this system: the CPU-time metrics of the benchmarks read 0.
func cpuTime() time.Duration { return 0 }
