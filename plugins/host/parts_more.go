package host

import (
	"context"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Noise is a plugin's noise model: it implements part.NoiseModel. The calls have no
// context in that interface; each runs under the plugin's per-call deadline.
type Noise struct{ base }

// Sample implements part.NoiseModel: two words drawn from rng seed the plugin's stream.
func (n *Noise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	seed := protocol.Seed{rng.Uint64(), rng.Uint64()}
	var y *batch.Batch
	err := n.do(ctx, "Sample", func(ctx context.Context, rpc *protocol.Client) (err error) {
		y, err = rpc.NoiseSample(ctx, n.handle, ax, seed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return y, n.checkTensor("Sample", y, ax.Shape)
}

// NLL implements part.NoiseModel.
func (n *Noise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	var v []float64
	err := n.do(ctx, "NLL", func(ctx context.Context, rpc *protocol.Client) (err error) {
		v, err = rpc.NLL(ctx, n.handle, y, ax)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, n.checkValues("NLL", v, ax.N, false)
}

// NLLGrad implements part.NoiseModel.
func (n *Noise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	var g *batch.Batch
	err := n.do(ctx, "NLLGrad", func(ctx context.Context, rpc *protocol.Client) (err error) {
		g, err = rpc.NLLGrad(ctx, n.handle, y, ax)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, n.checkTensor("NLLGrad", g, ax.Shape)
}

// NoiseWithMoments is a plugin noise model that states its moments: it also implements
// part.NoiseMoments, so the conformance suite checks its samples against them.
type NoiseWithMoments struct{ Noise }

// Moments implements part.NoiseMoments.
func (n *NoiseWithMoments) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	err = n.do(ctx, "Moments", func(ctx context.Context, rpc *protocol.Client) (err error) {
		mean, variance, err = rpc.Moments(ctx, n.handle, ax)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := n.checkTensor("Moments", mean, ax.Shape); err != nil {
		return nil, nil, err
	}
	return mean, variance, n.checkTensor("Moments", variance, ax.Shape)
}

// Prior is a plugin's prior: it implements part.Prior.
type Prior struct{ base }

// Energy implements part.Prior.
func (p *Prior) Energy(ctx context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	var e []float64
	var g *batch.Batch
	err := p.do(ctx, "Energy", func(ctx context.Context, rpc *protocol.Client) (err error) {
		e, g, err = rpc.Energy(ctx, p.handle, x)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := p.checkValues("Energy", e, x.N, false); err != nil {
		return nil, nil, err
	}
	return e, g, p.checkTensor("Energy", g, x.Shape)
}

// Metric is a plugin's image-quality metric: it implements part.Metric. Values may be
// infinite (a PSNR of identical images) but not NaN.
type Metric struct {
	base
	higher bool
}

// HigherIsBetter implements part.Metric, as the plugin describes the part.
func (m *Metric) HigherIsBetter() bool { return m.higher }

// Compute implements part.Metric.
func (m *Metric) Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error) {
	var v []float64
	err := m.do(ctx, "Compute", func(ctx context.Context, rpc *protocol.Client) (err error) {
		v, err = rpc.Compute(ctx, m.handle, ref, img)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, m.checkValues("Compute", v, ref.N, true)
}

var (
	_ part.NoiseModel   = (*Noise)(nil)
	_ part.NoiseMoments = (*NoiseWithMoments)(nil)
	_ part.Prior        = (*Prior)(nil)
	_ part.Metric       = (*Metric)(nil)
)
