package bm3d

import (
	"fmt"
	"math"
	"runtime"
)

// Profile names a parameter set of the reference implementation (see the package doc).
type Profile string

// Profiles.
const (
	// ProfileAuto is ProfileNormal up to sigma = 40 on the [0, 255] scale and ProfileVeryNoisy
	// above, as the reference BM3D.m chooses.
	ProfileAuto Profile = ""
	// ProfileNormal is BM3D.m's "np".
	ProfileNormal Profile = "np"
	// ProfileVeryNoisy is BM3D.m's "vn", its default for sigma > 40.
	ProfileVeryNoisy Profile = "vn"
	// ProfileVeryNoisyPaper is BM3D.m's "vn_old", the paper's Table 1 for sigma > 40.
	ProfileVeryNoisyPaper Profile = "vn_old"
)

// autoSigma255 is the sigma on the [0, 255] scale above which ProfileAuto picks "vn".
const autoSigma255 = 40

// Transform names for StageParams.Transform.
const (
	TransformBior15 = "bior1.5" // 2D biorthogonal spline wavelet 1.5, full decomposition
	TransformDCT    = "dct"     // 2D orthonormal DCT-II
)

// StageParams are the parameters of one stage.
type StageParams struct {
	// BlockSize is N1, the side of the square blocks, in pixels. bior1.5 needs a power of 2.
	BlockSize int
	// Step is Nstep, the distance in pixels between reference blocks along rows and columns.
	Step int
	// MaxGroup is N2, the most blocks in a group; a power of 2.
	MaxGroup int
	// Search is NS, the side of the full-search window in block positions; odd.
	Search int
	// TauMatch is the block-matching threshold on d = ||T2D(a)-T2D(b)||^2 / N1^2, in squared
	// [0, 255] intensity.
	TauMatch float64
	// Lambda2D (stage 1 only) zeroes 2D coefficients below Lambda2D*sigma before matching.
	Lambda2D float64
	// Lambda3D (stage 1 only) is the hard threshold on group coefficients, in units of sigma.
	Lambda3D float64
	// Beta is the Kaiser window parameter of the aggregation.
	Beta float64
	// Transform is the 2D block transform: TransformBior15 or TransformDCT.
	Transform string
}

// Params are the parameters of both stages.
type Params struct {
	HT     StageParams // stage 1: hard thresholding
	Wiener StageParams // stage 2: Wiener filtering
}

// ProfileParams returns the parameters of profile p for noise sigma255 on the [0, 255] scale
// (used only by ProfileAuto).
func ProfileParams(p Profile, sigma255 float64) (Params, error) {
	if p == ProfileAuto {
		p = ProfileNormal
		if sigma255 > autoSigma255 {
			p = ProfileVeryNoisy
		}
	}
	np := Params{
		HT: StageParams{BlockSize: 8, Step: 3, MaxGroup: 16, Search: 39, TauMatch: 3000,
			Lambda2D: 0, Lambda3D: 2.7, Beta: 2, Transform: TransformBior15},
		Wiener: StageParams{BlockSize: 8, Step: 3, MaxGroup: 32, Search: 39, TauMatch: 400,
			Beta: 2, Transform: TransformDCT},
	}
	switch p {
	case ProfileNormal:
		return np, nil
	case ProfileVeryNoisy:
		vn := np
		vn.HT.MaxGroup, vn.HT.Step, vn.HT.Lambda3D, vn.HT.TauMatch = 32, 4, 2.8, 25000
		vn.Wiener.BlockSize, vn.Wiener.Step, vn.Wiener.TauMatch = 11, 6, 3500
		return vn, nil
	case ProfileVeryNoisyPaper:
		old := np
		old.HT.Transform, old.HT.BlockSize, old.HT.Step = TransformDCT, 12, 4
		old.HT.Lambda2D, old.HT.Lambda3D, old.HT.TauMatch = 2.0, 2.8, 5000
		old.Wiener.BlockSize, old.Wiener.Step, old.Wiener.TauMatch = 11, 6, 3500
		return old, nil
	}
	return Params{}, fmt.Errorf("unknown BM3D profile %q; use %q, %q or %q (or empty for automatic)",
		p, ProfileNormal, ProfileVeryNoisy, ProfileVeryNoisyPaper)
}

// Options configure Denoise.
type Options struct {
	// Sigma is the standard deviation of the noise, in the image's units; required, > 0.
	Sigma float64
	// Peak is the intensity of white in the image's units: 1 for images in [0, 1] (the default
	// when zero), 255 for 8-bit values, 65535 for raw 16-bit values. The matching thresholds
	// are stated on the [0, 255] scale, so it matters.
	Peak float64
	// Profile selects the reference parameters; empty is ProfileAuto.
	Profile Profile
	// Params, when set, replaces the profile's parameters (for experiments).
	Params *Params
	// Workers is the number of goroutines; 0 is runtime.GOMAXPROCS(0). The output does not
	// depend on it.
	Workers int
}

// resolved is Options checked and turned into what the stages use.
type resolved struct {
	params  Params
	scale   float64 // multiplies image units into the [0, 255] scale
	sigma   float64 // on the [0, 255] scale
	workers int
}

func (o Options) resolve() (resolved, error) {
	if !(o.Sigma > 0) || math.IsInf(o.Sigma, 0) {
		return resolved{}, fmt.Errorf("bm3d: sigma must be a positive number in the image's units, got %v", o.Sigma)
	}
	peak := o.Peak
	if peak == 0 {
		peak = 1
	}
	if !(peak > 0) || math.IsInf(peak, 0) {
		return resolved{}, fmt.Errorf("bm3d: peak must be positive (the intensity of white), got %v", o.Peak)
	}
	r := resolved{scale: 255 / peak, workers: o.Workers}
	r.sigma = o.Sigma * r.scale
	if r.workers < 0 {
		return resolved{}, fmt.Errorf("bm3d: workers must be >= 0 (0 = GOMAXPROCS), got %d", o.Workers)
	}
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	if o.Params != nil {
		r.params = *o.Params
	} else {
		p, err := ProfileParams(o.Profile, r.sigma)
		if err != nil {
			return resolved{}, fmt.Errorf("bm3d: %w", err)
		}
		r.params = p
	}
	if err := r.params.HT.check("stage 1"); err != nil {
		return resolved{}, err
	}
	if err := r.params.Wiener.check("stage 2"); err != nil {
		return resolved{}, err
	}
	return r, nil
}

func (s StageParams) check(name string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("bm3d: %s: %s", name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.BlockSize < 1 || s.BlockSize > 64:
		return bad("block size must be in [1, 64], got %d", s.BlockSize)
	case s.Step < 1:
		return bad("step must be >= 1, got %d", s.Step)
	case s.MaxGroup < 1 || s.MaxGroup&(s.MaxGroup-1) != 0:
		return bad("max group size must be a power of 2, got %d", s.MaxGroup)
	case s.Search < 1 || s.Search%2 == 0:
		return bad("search window must be odd and positive, got %d", s.Search)
	case !(s.TauMatch > 0):
		return bad("tau_match must be positive, got %v", s.TauMatch)
	case s.Lambda2D < 0 || s.Lambda3D < 0 || s.Beta < 0:
		return bad("lambda_2D, lambda_3D and beta must be >= 0")
	case s.Transform != TransformBior15 && s.Transform != TransformDCT:
		return bad("transform must be %q or %q, got %q", TransformBior15, TransformDCT, s.Transform)
	case s.Transform == TransformBior15 && s.BlockSize&(s.BlockSize-1) != 0:
		return bad("bior1.5 needs a power-of-2 block size, got %d", s.BlockSize)
	}
	return nil
}
