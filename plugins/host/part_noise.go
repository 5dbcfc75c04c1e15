package host

import (
	"context"
	"io"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Noise is a plugin's noise model: it implements part.NoiseModel by calls into the plugin
// process, each under the caller's context and the plugin's per-call deadline.
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

var (
	_ part.NoiseModel   = (*Noise)(nil)
	_ part.NoiseMoments = (*NoiseWithMoments)(nil)
	_ io.Closer         = (*Noise)(nil)
)
