package data

import (
	"fmt"
	"github.com/flowdiff/flowdiff-go/core/randx"
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
			v = float64(randx.Poisson(rng, photons*max(v, 0))) / photons
		}
		if readSigma > 0 {
			v += readSigma * rng.NormFloat64()
		}
		out.Data[i] = float32(v)
	}
	return out
}
