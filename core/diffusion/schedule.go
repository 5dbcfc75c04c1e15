// Package diffusion holds the DDPM diffusion model of FlowDiff-Go: the noise schedule, the
// noise-prediction U-Net (EpsModel), the losses (the unweighted denoising loss the model trains
// on, and the likelihood-weighted ELBO term the flow uses as its prior), the moving average of
// the weights (UpdateEMA, EMAContext), and the samplers (Sampler: ancestral, DDIM, DPS).
// docs/diffusion.md has the architecture, the maths and the measured step times.
//
// Notation (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"), t = 1..T:
//
//	beta_t        linear from BetaStart to BetaEnd
//	alpha_t     = 1 - beta_t
//	abar_t      = prod_{s<=t} alpha_s
//	x_t         = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,   eps ~ N(0, I)
//	sigma_t^2   = beta_t   (the reverse-process variance; Ho et al. sec. 3.2)
//
// The ELBO bound on -log p_theta(x_0) (Ho et al. eq. 12; Song et al. 2021) is, up to a
// constant,
//
//	L_prior(x_0) = sum_t w_t E_eps || eps - eps_theta(x_t, t) ||^2,
//	w_t          = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) = beta_t / (2 alpha_t (1 - abar_t)).
//
// Index convention in code: arrays are 0-based, index i holds step t = i+1.
package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Schedule defaults (Ho et al. 2020).
const (
	DefaultSteps     = 1000
	DefaultBetaStart = 1e-4
	DefaultBetaEnd   = 0.02
)

// Schedule is a DDPM noise schedule.
type Schedule struct {
	Beta, Alpha, AlphaBar []float64
	// ELBOWeight is w_t above; ELBOCDF its normalized cumulative sum, for importance sampling
	// of t.
	ELBOWeight, ELBOCDF []float64
	ELBOTotal           float64 // sum_t w_t
}

// NewLinear returns the linear-beta schedule with steps steps.
func NewLinear(steps int, betaStart, betaEnd float64) (*Schedule, error) {
	if steps < 2 {
		return nil, fmt.Errorf("diffusion schedule needs at least 2 steps, got %d", steps)
	}
	if !(0 < betaStart && betaStart <= betaEnd && betaEnd < 1) {
		return nil, fmt.Errorf("diffusion schedule needs 0 < beta_start <= beta_end < 1, got %g and %g", betaStart, betaEnd)
	}
	s := &Schedule{Beta: make([]float64, steps), Alpha: make([]float64, steps), AlphaBar: make([]float64, steps),
		ELBOWeight: make([]float64, steps), ELBOCDF: make([]float64, steps)}
	abar := 1.0
	for i := range steps {
		b := betaStart + (betaEnd-betaStart)*float64(i)/float64(steps-1)
		abar *= 1 - b
		s.Beta[i], s.Alpha[i], s.AlphaBar[i] = b, 1-b, abar
		s.ELBOWeight[i] = b / (2 * (1 - b) * (1 - abar))
		s.ELBOTotal += s.ELBOWeight[i]
	}
	acc := 0.0
	for i, w := range s.ELBOWeight {
		acc += w
		s.ELBOCDF[i] = acc / s.ELBOTotal
	}
	return s, nil
}

// Steps is T.
func (s *Schedule) Steps() int { return len(s.Beta) }

// SampleUniform draws n step indices uniformly; the ELBO estimate for index i is then
// T * w_i * ||eps - eps_theta||^2.
func (s *Schedule) SampleUniform(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	for k := range out {
		out[k] = rng.IntN(s.Steps())
	}
	return out
}

// SampleImportance draws n step indices with probability w_i / sum w (the ELBO weights);
// the unbiased ELBO estimate for index i is then ELBOTotal * ||eps - eps_theta||^2, a lower
// variance estimator than uniform sampling because w_t spans two orders of magnitude.
func (s *Schedule) SampleImportance(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	for k := range out {
		u := rng.Float64()
		lo, hi := 0, len(s.ELBOCDF)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if s.ELBOCDF[mid] < u {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		out[k] = lo
	}
	return out
}

// Coefficients for a batch of step indices: sqrt(abar), sqrt(1-abar), as float32 for the
// graph.
func (s *Schedule) Coefficients(idx []int) (sqrtAbar, sqrtOneMinusAbar []float32) {
	sqrtAbar = make([]float32, len(idx))
	sqrtOneMinusAbar = make([]float32, len(idx))
	for k, i := range idx {
		sqrtAbar[k] = float32(math.Sqrt(s.AlphaBar[i]))
		sqrtOneMinusAbar[k] = float32(math.Sqrt(1 - s.AlphaBar[i]))
	}
	return
}
