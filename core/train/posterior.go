package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Posterior holds K flow samples' summary per observation: the posterior mean, the per-pixel
// standard deviation, and one sample.
type Posterior struct {
	Mean, Std, Sample *batch.Batch
	K                 int
}

// Posterior draws k samples x = b(y) + G(z; b(y)) per observation of obs (with the same
// shape rules as training) and summarizes them. Deterministic given seed.
func (t *Trainer) Posterior(ctx context.Context, obs *batch.Batch, base *batch.Batch, k int, seed int64) (*Posterior, error) {
	if k < 1 {
		return nil, fmt.Errorf("posterior needs at least one sample, got %d", k)
	}
	if t.genEx == nil {
		var err error
		if t.genEx, err = t.buildGenerate(); err != nil {
			return nil, err
		}
	}
	s := t.prob.Clean
	n := obs.N
	sum := make([]float64, n*s.ImageSize())
	sq := make([]float64, n*s.ImageSize())
	p := &Posterior{Mean: batch.New(n, s.H, s.W, s.C), Std: batch.New(n, s.H, s.W, s.C), Sample: batch.New(n, s.H, s.W, s.C), K: k}
	bs := max(1, t.cfg.Batch)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9057))
	batches := (n + bs - 1) / bs
	meter := progress.New(t.log, "posterior sampling", "batch", k*batches)
	for j := range k {
		for from := 0; from < n; from += bs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			to := min(n, from+bs)
			// Pad the last batch to the compiled size rather than compiling another shape.
			idx := make([]int, bs)
			for i := range idx {
				idx[i] = min(from+i, to-1)
			}
			z := gaussian(rng, bs, s)
			out, err := t.genEx.Exec(toTensor(z), toTensor(base.Gather(idx)))
			if err != nil {
				return nil, err
			}
			x, err := tensors.CopyFlatData[float32](out[0])
			if err != nil {
				return nil, err
			}
			meter.Update(j*batches + from/bs + 1)
			sz := s.ImageSize()
			for i := 0; i < to-from; i++ {
				for q := range sz {
					v := float64(x[i*sz+q])
					sum[(from+i)*sz+q] += v
					sq[(from+i)*sz+q] += v * v
					if j == 0 {
						p.Sample.Data[(from+i)*sz+q] = float32(v)
					}
				}
			}
		}
	}
	for i := range sum {
		m := sum[i] / float64(k)
		p.Mean.Data[i] = float32(m)
		if k > 1 {
			p.Std.Data[i] = float32(math.Sqrt(math.Max(0, (sq[i]-float64(k)*m*m)/float64(k-1))))
		}
	}
	return p, nil
}

// Base returns b(y) for observations obs with params (y itself, or A^T y).
func (t *Trainer) Base(ctx context.Context, prob Problem) (*batch.Batch, error) {
	return baseImages(ctx, prob)
}
