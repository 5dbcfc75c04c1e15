// Package randx holds random-variate generators the standard library lacks, shared by the
// data generators and the noise models.
package randx

import (
	"math"
	"math/rand/v2"
)

// Poisson draws from the Poisson distribution with mean lam: by inversion (sequential search)
// for lam < 10, and by Hörmann's transformed rejection with squeeze, PTRS ("The transformed
// rejection method for generating Poisson random variables", Insurance: Mathematics and
// Economics 12, 1993; the algorithm NumPy uses) for lam >= 10.
func Poisson(rng *rand.Rand, lam float64) int64 {
	switch {
	case lam <= 0 || math.IsNaN(lam):
		return 0
	case lam < 10:
		u := rng.Float64()
		p := math.Exp(-lam)
		s := p
		var k int64
		for u > s && k < 1000 {
			k++
			p *= lam / float64(k)
			s += p
		}
		return k
	}
	slam := math.Sqrt(lam)
	loglam := math.Log(lam)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := rng.Float64() - 0.5
		v := rng.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lam+k*loglam-lg {
			return int64(k)
		}
	}
}
