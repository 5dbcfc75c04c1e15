package diffusion

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// The toy distribution: 8x8x1 images, each one of two fixed patterns with probability 1/2,
// "left" (+1 on the left half, -1 on the right) and "top" (+1 on the top half, -1 below). The
// patterns differ on half the pixels (RMS distance sqrt(2)); both have pixel mean 0 and pixel
// variance 1.
const (
	toySide      = 8
	toySteps     = 100 // T of the toy schedule; betas scaled by 1000/T from DDPM's
	toyTrainIter = 600
	toyBatch     = 16
	toyLR        = 5e-3
	toyEMADecay  = 0.95 // a window of ~20 steps, for a short run
)

var (
	toyClip = [2]float64{-1, 1} // the data range, for SampleOptions.Clip
	toyCfg  = UNetConfig{Channels: 16, Multipliers: []int{1, 2}, TimeEmbed: 32, Patch: 2}
)

// toyPatterns returns the two patterns.
func toyPatterns() [2][]float32 {
	var p [2][]float32
	for k := range p {
		p[k] = make([]float32, toySide*toySide)
		for y := range toySide {
			for x := range toySide {
				on := x < toySide/2
				if k == 1 {
					on = y < toySide/2
				}
				p[k][y*toySide+x] = -1
				if on {
					p[k][y*toySide+x] = 1
				}
			}
		}
	}
	return p
}

// toyBatchOf draws n images of the toy distribution and returns which pattern each is.
func toyBatchOf(rng *rand.Rand, n int) (*batch.Batch, []int) {
	p := toyPatterns()
	b := batch.New(n, toySide, toySide, 1)
	which := make([]int, n)
	for i := range n {
		which[i] = rng.IntN(2)
		copy(b.Image(i).Data, p[which[i]])
	}
	return b, which
}

// nearestPattern returns the index of the pattern nearest to img and the RMS distance to it.
func nearestPattern(img []float32) (int, float64) {
	p := toyPatterns()
	d0, d1 := rms(img, p[0]), rms(img, p[1])
	if d0 <= d1 {
		return 0, d0
	}
	return 1, d1
}

// toyModel is the U-Net trained once per test binary on the toy distribution.
type toyModel struct {
	ctx, ema         *mlctx.Context
	sched            *Schedule
	firstLoss, final float64 // mean DenoiseLoss over the first and the last 25 steps
	took             time.Duration
}

var (
	toyOnce sync.Once
	toy     *toyModel
	toyErr  error
)

// trainedToy trains the toy model (once): toyTrainIter Adam steps (learning rate toyLR) of
// DenoiseLoss on batches of toyBatch, with uniform t and an EMA of the weights.
func trainedToy(t *testing.T) *toyModel {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a model for several seconds; skipped under -short")
	}
	toyOnce.Do(func() {
		b := gomlxtest.Backend(t, testGoConfig)
		sched, err := NewLinear(toySteps, 1e-3, 0.2)
		if err != nil {
			toyErr = err
			return
		}
		ctx := mlctx.New()
		if err := ctx.SetRNGStateFromSeed(42); err != nil {
			toyErr = err
			return
		}
		opt := optimizers.Adam().LearningRate(toyLR).Done()
		step, err := mlctx.NewExec(b, ctx, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
			loss := DenoiseLoss(ctx, toyCfg, in[0], in[1], in[2], in[3], in[4])
			opt.UpdateGraph(ctx, loss.Graph(), loss)
			UpdateEMA(ctx, loss.Graph(), UNetScope, toyEMADecay)
			return loss
		})
		if err != nil {
			toyErr = err
			return
		}
		rng := rand.New(rand.NewPCG(42, 1))
		m := &toyModel{ctx: ctx, sched: sched}
		start := time.Now()
		shape := batch.Shape{N: toyBatch, H: toySide, W: toySide, C: 1}
		for it := range toyTrainIter {
			x0, _ := toyBatchOf(rng, toyBatch)
			in := sched.LossInputs(rng, shape, Uniform)
			out, err := step.Exec(tensors.FromFlatDataAndDimensions(x0.Data, shape.Dims()...),
				tensors.FromFlatDataAndDimensions(in.Eps.Data, shape.Dims()...),
				tensors.FromFlatDataAndDimensions(in.T, shape.N), tensors.FromFlatDataAndDimensions(in.SqrtAbar, shape.N),
				tensors.FromFlatDataAndDimensions(in.SqrtOneMinusAbar, shape.N))
			if err != nil {
				toyErr = err
				return
			}
			l := gomlxtest.Flat64(out[0])[0]
			switch {
			case it < 25:
				m.firstLoss += l / 25
			case it >= toyTrainIter-25:
				m.final += l / 25
			}
		}
		m.took = time.Since(start)
		m.ema, toyErr = EMAContext(ctx, UNetScope)
		toy = m
	})
	if toyErr != nil {
		t.Fatal(toyErr)
	}
	return toy
}

// toySampler returns a sampler for the toy model's EMA weights (ema) or raw weights.
func toySampler(t *testing.T, m *toyModel, ema bool) *Sampler {
	t.Helper()
	model := m.ctx
	if ema {
		model = m.ema
	}
	s, err := NewSampler(gomlxtest.Backend(t, testGoConfig), model, toyCfg, m.sched)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestToyTraining checks that training reduces the loss clearly: the mean over the last 25 of
// toyTrainIter steps is below 0.5x the mean over the first 25 (the loss starts at ~1:
// eps_theta = 0).
func TestToyTraining(t *testing.T) {
	m := trainedToy(t)
	t.Logf("%d Adam steps (batch %d, 8x8) in %v: loss %.3f -> %.3f", toyTrainIter, toyBatch, m.took.Round(time.Millisecond), m.firstLoss, m.final)
	if !(m.final < 0.5*m.firstLoss) {
		t.Errorf("loss %.4f -> %.4f: not reduced below half", m.firstLoss, m.final)
	}
}

// TestToySamples checks that DDIM (20 steps, eta 0) and ancestral (100 steps) samples from the
// trained model, clipped to the data range, look like the toy data, on 64 samples each:
//   - at least 80% lie within RMS 0.35 of a pattern (the patterns are sqrt(2) apart);
//   - each pattern gets between 20% and 80% of those (the data: 50/50; a collapsed model
//     gives one pattern only);
//   - the pixel mean is within 0.15 of the data's (0) and the pixel variance within 0.3 of the
//     data's (1); an undertrained model gives blurred, low-variance samples;
//   - the top-left quadrant, +1 in both patterns, has mean > 0.7; the bottom-right, -1 in
//     both, < -0.7 (an untrained model gives 0 for both).
func TestToySamples(t *testing.T) {
	m := trainedToy(t)
	shape := batch.Shape{N: 64, H: toySide, W: toySide, C: 1}
	run := map[string]func() (*batch.Batch, error){
		"ddim20-ema": func() (*batch.Batch, error) {
			return toySampler(t, m, true).DDIM(context.Background(), shape, 20, 0, SampleOptions{Seed: 1, Clip: toyClip})
		},
		"ancestral100": func() (*batch.Batch, error) {
			return toySampler(t, m, false).Ancestral(context.Background(), shape, SampleOptions{Seed: 2, Clip: toyClip})
		},
	}
	for _, name := range []string{"ddim20-ema", "ancestral100"} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			x, err := run[name]()
			if err != nil {
				t.Fatal(err)
			}
			near, counts := 0, [2]int{}
			var sum, sq, tl, br float64
			for i := range shape.N {
				img := x.Image(i).Data
				k, d := nearestPattern(img)
				if d < 0.35 {
					near++
					counts[k]++
				}
				for j, v := range img {
					sum += float64(v)
					sq += float64(v) * float64(v)
					switch y, x := j/toySide, j%toySide; {
					case y < toySide/2 && x < toySide/2:
						tl += float64(v)
					case y >= toySide/2 && x >= toySide/2:
						br += float64(v)
					}
				}
			}
			quarter := float64(shape.N * toySide * toySide / 4)
			tl, br = tl/quarter, br/quarter
			n := float64(x.Shape.Size())
			mean := sum / n
			variance := sq/n - mean*mean
			t.Logf("%v: %d/%d near a pattern (left %d, top %d), pixel mean %.3f, variance %.3f, quadrants TL %.3f BR %.3f",
				time.Since(start).Round(time.Millisecond), near, shape.N, counts[0], counts[1], mean, variance, tl, br)
			if near < shape.N*8/10 {
				t.Errorf("only %d of %d samples within RMS 0.35 of a pattern", near, shape.N)
			}
			if lo, hi := near/5, near*4/5; counts[0] < lo || counts[0] > hi {
				t.Errorf("pattern counts %v: not balanced within [20%%, 80%%]", counts)
			}
			if math.Abs(mean) > 0.15 || math.Abs(variance-1) > 0.3 {
				t.Errorf("pixel mean %.3f (want 0 ± 0.15), variance %.3f (want 1 ± 0.3)", mean, variance)
			}
			if tl < 0.7 || br > -0.7 {
				t.Errorf("quadrant means TL %.3f (want > 0.7), BR %.3f (want < -0.7)", tl, br)
			}
		})
	}
}

// dpsSetup returns n toy truths (alternating patterns), a random mask (half the pixels) with
// per-sample masks, and the observations y = mask ⊙ x (noise-free).
func dpsSetup(t *testing.T, n int) (truth *batch.Batch, op *operators.RandomMask, p part.Params, y *batch.Batch) {
	ctx := t.Context()
	t.Helper()
	pat := toyPatterns()
	truth = batch.New(n, toySide, toySide, 1)
	for i := range n {
		copy(truth.Image(i).Data, pat[i%2])
	}
	op, err := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	p, err = op.SampleParams(ctx, rand.New(rand.NewPCG(8, 8)), truth.Shape)
	if err != nil {
		t.Fatal(err)
	}
	y, err = op.Apply(context.Background(), truth, p)
	if err != nil {
		t.Fatal(err)
	}
	return truth, op, p, y
}

// residuals returns ||y_n - A(x)_n|| per sample.
func residuals(t *testing.T, op part.Operator, p part.Params, x, y *batch.Batch) []float64 {
	t.Helper()
	ax, err := op.Apply(context.Background(), x, p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, x.N)
	for i := range out {
		out[i] = rms(ax.Image(i).Data, y.Image(i).Data) * math.Sqrt(float64(x.ImageSize()))
	}
	return out
}

// TestToyDPS checks DPS on inpainting (mask.random, half the pixels) of 8 toy images with the
// trained model: with the same seeds, the DPS samples' mean residual ||y - A(x)|| is below 0.5x
// that of unconditional ancestral samples, and at least 14 of 16 DPS samples are nearest to
// their truth's pattern (unconditional samples: about half).
func TestToyDPS(t *testing.T) {
	m := trainedToy(t)
	s := toySampler(t, m, true)
	truth, op, p, y := dpsSetup(t, 16)
	opt := SampleOptions{Seed: 3, Clip: toyClip}
	start := time.Now()
	xd, err := s.DPS(context.Background(), truth.Shape, DPSProblem{Op: op, Params: p, Y: y}, opt)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	xu, err := s.Ancestral(context.Background(), truth.Shape, opt)
	if err != nil {
		t.Fatal(err)
	}
	rd, ru := residuals(t, op, p, xd, y), residuals(t, op, p, xu, y)
	var md, mu float64
	right := 0
	for i := range rd {
		md += rd[i] / float64(len(rd))
		mu += ru[i] / float64(len(ru))
		if k, _ := nearestPattern(xd.Image(i).Data); k == i%2 {
			right++
		}
	}
	t.Logf("DPS (%v): mean residual %.3f vs unconditional %.3f; %d/%d on the true pattern",
		took.Round(time.Millisecond), md, mu, right, truth.N)
	if !(md < 0.5*mu) {
		t.Errorf("DPS residual %.3f not below 0.5x the unconditional %.3f", md, mu)
	}
	if right < 14 {
		t.Errorf("only %d of %d DPS samples nearest to their truth's pattern", right, truth.N)
	}
}

// TestDPSPerSample checks that a sample's DPS result does not depend on its batch: sample 1 of
// a batch of 3 (distinct observations and masks) equals the same sample run alone with its
// stream (FirstIndex 1), to 1e-4 absolute (float32 products of different batch sizes may sum in
// a different order). The same holds for ancestral sampling. Exact reruns are bitwise equal.
func TestDPSPerSample(t *testing.T) {
	m := trainedToy(t)
	s := toySampler(t, m, true)
	_, op, p, y := dpsSetup(t, 3)
	shape := y.Shape
	all, err := s.DPS(context.Background(), shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5}, SampleOptions{Seed: 4, Clip: toyClip})
	if err != nil {
		t.Fatal(err)
	}
	one := shape
	one.N = 1
	alone, err := s.DPS(context.Background(), one, DPSProblem{Op: op, Params: p.Slice(1, 2), Y: y.Slice(1, 2), Zeta: 0.5},
		SampleOptions{Seed: 4, FirstIndex: 1, Clip: toyClip})
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(all.Image(1).Data, alone.Data)
	t.Logf("DPS sample 1, batch of 3 vs alone: max |difference| %g", d)
	if d > 1e-4 {
		t.Errorf("DPS sample 1: batch vs alone differ by %g", d)
	}
	again, err := s.DPS(context.Background(), shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5}, SampleOptions{Seed: 4, Clip: toyClip})
	if err != nil {
		t.Fatal(err)
	}
	if maxAbsDiff(all.Data, again.Data) != 0 {
		t.Error("DPS rerun with the same seed differs")
	}
	ab, err := s.Ancestral(context.Background(), shape, SampleOptions{Seed: 5, Clip: toyClip})
	if err != nil {
		t.Fatal(err)
	}
	aa, err := s.Ancestral(context.Background(), one, SampleOptions{Seed: 5, FirstIndex: 2, Clip: toyClip})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(ab.Image(2).Data, aa.Data); d > 1e-4 {
		t.Errorf("ancestral sample 2: batch vs alone differ by %g", d)
	}
}
