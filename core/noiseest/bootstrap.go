package noiseest

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Bootstrap defaults, each written once.
const (
	// DefaultResamples is the number of block-bootstrap replicates behind a standard error.
	DefaultResamples = 200
	// DefaultSeed seeds the bootstrap's PCG stream, so an estimate and its standard error are
	// the same on every run.
	DefaultSeed = 0x9015e
)

// resample calls f with reps resamples of k blocks drawn with replacement (the block
// bootstrap; Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 6), each given
// as the blocks' multiplicities, from the PCG stream (seed, 0xb007).
func resample(k, reps int, seed uint64, f func(counts []int)) {
	rng := rand.New(rand.NewPCG(seed, 0xb007))
	counts := make([]int, k)
	for range reps {
		clear(counts)
		for range k {
			counts[rng.IntN(k)]++
		}
		f(counts)
	}
}

// spread accumulates values and returns their sample standard deviation.
type spread struct{ n, sum, sum2 float64 }

func (s *spread) add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s.n++
	s.sum += v
	s.sum2 += v * v
}

func (s *spread) sd() float64 {
	if s.n < 2 {
		return 0
	}
	mean := s.sum / s.n
	return math.Sqrt(max(s.sum2/s.n-mean*mean, 0) * s.n / (s.n - 1))
}

// blockBootstrap returns the standard deviation of stat over reps resamples of k blocks:
// the standard error of stat computed on all blocks. Non-finite replicates are left out;
// fewer than two blocks give 0.
func blockBootstrap(k, reps int, seed uint64, stat func(counts []int) float64) float64 {
	if k < 2 || reps < 2 {
		return 0
	}
	var s spread
	resample(k, reps, seed, func(c []int) { s.add(stat(c)) })
	return s.sd()
}

// blockedValues holds values sorted ascending with the block each came from, so that the
// median of any resample of blocks is one pass over them.
type blockedValues struct {
	v     []float64
	block []int32
	size  []int // values per block
}

func newBlockedValues(v []float64, block []int32, blocks int) blockedValues {
	idx := make([]int32, len(v))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	bv := blockedValues{v: make([]float64, len(v)), block: make([]int32, len(v)), size: make([]int, blocks)}
	for i, j := range idx {
		bv.v[i], bv.block[i] = v[j], block[j]
		bv.size[block[j]]++
	}
	return bv
}

// median returns the median of all values (the mean of the two middle ones for an even count).
func (bv blockedValues) median() float64 {
	n := len(bv.v)
	if n%2 == 1 {
		return bv.v[n/2]
	}
	return (bv.v[n/2-1] + bv.v[n/2]) / 2
}

// weightedMedian returns the lower median of the values with each block's values repeated
// counts[block] times.
func (bv blockedValues) weightedMedian(counts []int) float64 {
	total := 0
	for b, c := range counts {
		total += c * bv.size[b]
	}
	if total == 0 {
		return math.NaN()
	}
	half, cum := (total+1)/2, 0
	for i, b := range bv.block {
		cum += counts[b]
		if cum >= half {
			return bv.v[i]
		}
	}
	return bv.v[len(bv.v)-1]
}

// selectKth returns the k-th smallest value of v (0-based), reordering v: Hoare's selection
// with a median-of-three pivot, linear time on average.
func selectKth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}
