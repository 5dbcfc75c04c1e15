package diffusion

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
)

// DenoiseCheck is how well a prior removes Gaussian noise of one level from clean images in
// one step: a direct measure of whether it learned clean images. A prior learned from images
// that still carry noise of standard deviation s treats noise below s as part of the image and
// leaves it there, so its gain is near 0 dB at such levels, while a prior of clean images
// removes part of any noise (CheckDenoising).
type DenoiseCheck struct {
	// Sigma is the noise standard deviation in image units ([0,1] intensities), that of the
	// diffusion step Step: sqrt((1-abar_t)/abar_t)/2, the step nearest the level asked for.
	Sigma float64
	Step  int
	// InputPSNR is the mean PSNR (dB, peak 1) of the noisy images x_t/sqrt(abar_t) against the
	// clean ones; OutputPSNR that of the prior's estimate x0_hat; GainDB their difference.
	InputPSNR, OutputPSNR, GainDB float64
	// N is the number of images.
	N int
}

// StepForNoise returns the step t whose noise level in image units, sqrt((1-abar_t)/abar_t)/2
// (the std of x_t/sqrt(abar_t) mapped back from the model's 2x-1 range), is nearest sigma,
// and that level.
func (s *Schedule) StepForNoise(sigma float64) (int, float64) {
	best, level := 0, math.Inf(1)
	for i, ab := range s.AlphaBar {
		l := math.Sqrt((1-ab)/ab) / 2
		if math.Abs(l-sigma) < math.Abs(level-sigma) {
			best, level = i, l
		}
	}
	return best, level
}

// CheckDenoising measures the prior's one-step denoising of the clean images (in [0,1]) at
// noise level sigma (image units): with u = 2x-1 and t = StepForNoise(sigma),
//
//	x_t    = sqrt(abar_t) u + sqrt(1-abar_t) eps,           eps ~ N(0, I) from seed
//	u0_hat = (x_t - sqrt(1-abar_t) eps_theta(x_t, t)) / sqrt(abar_t)   (Tweedie's estimate)
//
// and compares the PSNR of (u0_hat+1)/2 (unclipped) with that of the noisy input
// (x_t/sqrt(abar_t)+1)/2, both against the clean images. The network sees batch images per
// call, so memory stays bounded for large images; the noise is drawn for all images first, so
// the result does not depend on batch. The gain is -10 log10 of the
// eps-prediction error ||eps - eps_theta||²/||eps||² up to the noise draw: 0 dB for a model
// that cannot tell the noise from the image.
func (s *Sampler) CheckDenoising(ctx context.Context, clean *batch.Batch, sigma float64, seed int64, batchSize int) (DenoiseCheck, error) {
	if clean == nil || clean.N == 0 {
		return DenoiseCheck{}, fmt.Errorf("denoising check: no clean images")
	}
	if !(sigma > 0) {
		return DenoiseCheck{}, fmt.Errorf("denoising check: noise level %v must be > 0", sigma)
	}
	if err := s.cfg.Validate(clean.H, clean.W, clean.C); err != nil {
		return DenoiseCheck{}, err
	}
	t, level := s.sched.StepForNoise(sigma)
	s0, s1 := math.Sqrt(s.sched.AlphaBar[t]), math.Sqrt(1-s.sched.AlphaBar[t])
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6465_6e6f_6973_65))
	xt := batch.New(clean.N, clean.H, clean.W, clean.C)
	noisy := batch.New(clean.N, clean.H, clean.W, clean.C)
	for i, v := range clean.Data {
		u := 2*float64(v) - 1
		x := s0*u + s1*rng.NormFloat64()
		xt.Data[i] = float32(x)
		noisy.Data[i] = float32((x/s0 + 1) / 2)
	}
	exec, err := s.x0Exec()
	if err != nil {
		return DenoiseCheck{}, err
	}
	est := batch.New(clean.N, clean.H, clean.W, clean.C)
	batchSize = max(1, batchSize)
	for from := 0; from < clean.N; from += batchSize {
		if err := ctx.Err(); err != nil {
			return DenoiseCheck{}, err
		}
		to := min(clean.N, from+batchSize)
		out, err := execImages(exec, xt.Slice(from, to), stepTimes(to-from, t), scalar(s0), scalar(s1))
		if err != nil {
			return DenoiseCheck{}, fmt.Errorf("denoising check at sigma %v: %w", sigma, err)
		}
		dst := est.Data[from*est.ImageSize():]
		for i, u := range out[0].Data {
			dst[i] = (u + 1) / 2
		}
	}
	in, outPSNR := meanPSNR(clean, noisy), meanPSNR(clean, est)
	return DenoiseCheck{Sigma: level, Step: t, InputPSNR: in, OutputPSNR: outPSNR, GainDB: outPSNR - in, N: clean.N}, nil
}

// x0Exec returns (compiling it once) the graph u0_hat = (x_t - s1 eps(x_t, t)) / s0 on inputs
// x_t [N,H,W,C], t [N], s0 and s1 scalars.
func (s *Sampler) x0Exec() (*mlctx.Exec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x0 != nil {
		return s.x0, nil
	}
	e, err := mlctx.NewExec(s.backend, s.model, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		xt, t, s0, s1 := in[0], in[1], in[2], in[3]
		eps := s.eps(ctx, xt, t, s0, s1)
		return graph.Div(graph.Sub(xt, graph.Mul(s1, eps)), s0)
	})
	if err != nil {
		return nil, fmt.Errorf("denoising check: %w", err)
	}
	s.x0 = e
	return e, nil
}

// meanPSNR is the mean over images of metric.psnr (peak 1); an image identical to its
// reference counts as 100 dB, so that the mean stays finite.
func meanPSNR(ref, x *batch.Batch) float64 {
	vals, err := metrics.PSNR{Range: 1}.Compute(context.Background(), ref, x)
	if err != nil { // same shapes by construction
		panic(err)
	}
	var sum float64
	for _, v := range vals {
		sum += min(v, 100)
	}
	return sum / float64(len(vals))
}
