package ambientflow

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Posterior is the amortized restoration of observations by the conditional flow.
type Posterior struct {
	Mean, Std, Sample *batch.Batch // per-pixel mean and standard deviation over K samples, the first sample
	K                 int
}

// Posterior draws k samples x = G(z; y) per observation of obs (z from seed), in batches of
// batchSize, and returns their per-pixel mean and standard deviation and the first sample.
func (t *Trainer) Posterior(ctx context.Context, obs *batch.Batch, k, batchSize int, seed int64) (*Posterior, error) {
	if k < 1 {
		return nil, fmt.Errorf("ambientflow posterior: need at least one sample, got %d", k)
	}
	exec, err := mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, y, eps *graph.Node) *graph.Node {
		return t.posterior(ctx, y, eps)
	})
	if err != nil {
		return nil, err
	}
	size := obs.H * obs.W * obs.C
	sum := make([]float64, len(obs.Data))
	sq := make([]float64, len(obs.Data))
	first := batch.New(obs.N, obs.H, obs.W, obs.C)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x504f5354))
	for s := range k {
		for from := 0; from < obs.N; from += batchSize {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			to := min(obs.N, from+batchSize)
			idx := make([]int, to-from)
			for i := range idx {
				idx[i] = from + i
			}
			out, err := exec.Exec(gather(obs, idx), normal(rng, to-from, obs.H, obs.W, obs.C))
			if err != nil {
				return nil, err
			}
			x := tensors.MustCopyFlatData[float32](out[0])
			for i, v := range x {
				j := from*size + i
				sum[j] += float64(v)
				sq[j] += float64(v) * float64(v)
				if s == 0 {
					first.Data[j] = v
				}
			}
		}
	}
	p := &Posterior{Mean: batch.New(obs.N, obs.H, obs.W, obs.C), Std: batch.New(obs.N, obs.H, obs.W, obs.C), Sample: first, K: k}
	for i := range sum {
		m := sum[i] / float64(k)
		p.Mean.Data[i] = float32(m)
		p.Std.Data[i] = float32(math.Sqrt(max(0, sq[i]/float64(k)-m*m)))
	}
	return p, nil
}

// SamplePrior draws n samples of the Glow prior at the configured temperature (noise from
// seed), in batches of batchSize, shaped like the observations' images.
func (t *Trainer) SamplePrior(ctx context.Context, n, batchSize int, seed int64) (*batch.Batch, error) {
	h, w, c := t.p.Obs.H, t.p.Obs.W, t.p.Obs.C
	exec, err := mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, eps *graph.Node) *graph.Node {
		return Sample(ctx, t.p.Conf.Prior, eps, t.p.Conf.Temperature)
	})
	if err != nil {
		return nil, err
	}
	out := batch.New(n, h, w, c)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5052494f))
	for from := 0; from < n; from += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		to := min(n, from+batchSize)
		res, err := exec.Exec(normal(rng, to-from, h, w, c))
		if err != nil {
			return nil, err
		}
		copy(out.Data[from*h*w*c:], tensors.MustCopyFlatData[float32](res[0]))
	}
	return out, nil
}

// PriorNLL returns the Glow prior's mean negative log-likelihood of the images x, in nats per
// pixel (continuous density of [0,1] intensities; no dequantization).
func (t *Trainer) PriorNLL(ctx context.Context, x *batch.Batch, batchSize int) (float64, error) {
	exec, err := mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, img *graph.Node) *graph.Node {
		return graph.ReduceAllSum(LogProb(ctx, t.p.Conf.Prior, img))
	})
	if err != nil {
		return 0, err
	}
	var total float64
	for from := 0; from < x.N; from += batchSize {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		to := min(x.N, from+batchSize)
		idx := make([]int, to-from)
		for i := range idx {
			idx[i] = from + i
		}
		res, err := exec.Exec(gather(x, idx))
		if err != nil {
			return 0, err
		}
		total += float64(tensors.ToScalar[float32](res[0]))
	}
	return -total / float64(x.N*x.H*x.W*x.C), nil
}
