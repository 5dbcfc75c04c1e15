package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// PoissonGaussian returns a noisy observation of clean under the Poisson-Gaussian model of
// a photon-counting camera,
//
//	y = Poisson(photons * max(x, 0)) / photons + N(0, readSigma^2),
//
// independently per element, where photons is the expected photon count of a pixel of
// intensity 1 (the gain) and readSigma the read-noise standard deviation in intensity units.
// Then E[y] = x and Var[y] = x/photons + readSigma^2 for x >= 0. Any offset is part of the
// clean image (e.g. SyntheticOptions.Background). The result is not clipped. photons = +Inf
// gives Gaussian noise only. Draws come from the PCG stream (seed, 0x9e15), in element order.
// It panics on photons <= 0 or NaN, or readSigma < 0 or NaN (programmer errors).
func PoissonGaussian(clean *batch.Batch, photons, readSigma float64, seed int64) *batch.Batch {
	if !(photons > 0) || !(readSigma >= 0) {
		panic(fmt.Sprintf("data.PoissonGaussian: photons %v must be > 0 and readSigma %v >= 0", photons, readSigma))
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e15))
	out := clean.Clone()
	shot := !math.IsInf(photons, 1)
	for i, x := range out.Data {
		v := float64(x)
		if shot {
			v = float64(poisson(rng, photons*max(v, 0))) / photons
		}
		if readSigma > 0 {
			v += readSigma * rng.NormFloat64()
		}
		out.Data[i] = float32(v)
	}
	return out
}

// poisson draws from the Poisson distribution with mean lam: by inversion (sequential search)
// for lam < 10, and by Hörmann's transformed rejection with squeeze, PTRS ("The transformed
// rejection method for generating Poisson random variables", Insurance: Mathematics and
// Economics 12, 1993; the algorithm NumPy uses) for lam >= 10.
func poisson(rng *rand.Rand, lam float64) int64 {
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
