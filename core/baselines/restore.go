package baselines

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// Amortized restorations: one network evaluation per observation, the estimate each baseline
// gives without sampling (the counterpart of FlowDiff's flow posterior mean). model holds the
// U-Net's weights at /unet (train.LoadPrior: the EMA weights); images are in [0,1].

// DenoiseSURE returns SURE-Score's D(y) for observations y with Gaussian noise sigma
// (intensity units): (D(2y-1) + 1)/2, unclipped, D the Denoiser at the noise level 2 sigma.
func DenoiseSURE(ctx context.Context, be backends.Backend, model *mlctx.Context, unet diffusion.UNetConfig,
	sched *diffusion.Schedule, y *batch.Batch, sigma float64, batchSize int) (*batch.Batch, error) {
	t, abar, err := NoiseLevelStep(sched, 2*sigma)
	if err != nil {
		return nil, fmt.Errorf("sure_score: %w", err)
	}
	return applyBatched(ctx, be, model, y, nil, batchSize, func(ctx *mlctx.Context, u, _ *graph.Node) *graph.Node {
		return Denoiser(ctx, unet, t, abar, 2*sigma)(u)
	})
}

// RestoreAmbient returns Ambient Diffusion's estimate of the clean images from observations y
// with observed-pixel masks mask (ObservedMask) and Gaussian noise sigma (intensity units; 0
// for noiseless masks): the network's x0 at the step t* of the noise level (NoiseLevelStep),
// given x_t* = sqrt(abar*) u, u = 2y - 1, through the mask A,
//
//	x_hat = (x0_hat(A, x_t*, t*) + 1)/2         (AmbientX0)
//
// its estimate of E[x0 | A x_t*, A] (Daras et al. 2023: the trained model restores
// observations with the training corruption in one step), unclipped.
func RestoreAmbient(ctx context.Context, be backends.Backend, model *mlctx.Context, unet diffusion.UNetConfig, sigmaData float64,
	sched *diffusion.Schedule, y, mask *batch.Batch, sigma float64, batchSize int) (*batch.Batch, error) {
	t, abar, err := NoiseLevelStep(sched, 2*sigma)
	if err != nil {
		return nil, fmt.Errorf("ambient_diffusion: %w", err)
	}
	if mask == nil || mask.Shape != y.Shape {
		return nil, fmt.Errorf("ambient_diffusion: masks of shape %v for observations of shape %s", shapeOf(mask), y.Shape)
	}
	return applyBatched(ctx, be, model, y, mask, batchSize, func(ctx *mlctx.Context, u, m *graph.Node) *graph.Node {
		g := u.Graph()
		n := u.Shape().Dimensions[0]
		tt := graph.BroadcastToDims(graph.Scalar(g, u.DType(), t), n)
		s0, s1 := graph.Scalar(g, u.DType(), math.Sqrt(abar)), graph.Scalar(g, u.DType(), math.Sqrt(1-abar))
		x0, _ := AmbientX0(ctx, unet, graph.Mul(s0, u), m, tt, s0, s1, sigmaData)
		return x0
	})
}

// applyBatched evaluates fn(u = 2y-1, m) batch by batch (the last batch padded to the compiled
// size) and returns (fn+1)/2. m is nil when fn takes no mask.
func applyBatched(ctx context.Context, be backends.Backend, model *mlctx.Context, y, m *batch.Batch, bs int,
	fn func(ctx *mlctx.Context, u, m *graph.Node) *graph.Node) (out *batch.Batch, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("restore: %v", r)
		}
	}()
	bs = max(1, min(bs, y.N))
	exec, err := mlctx.NewExec(be, model.InAbsPath(mlctx.RootScope).Reuse(), func(ctx *mlctx.Context, u, mk *graph.Node) *graph.Node {
		if m == nil {
			mk = nil
		}
		return fn(ctx, u, mk)
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	out = batch.New(y.N, y.H, y.W, y.C)
	sz := y.ImageSize()
	for from := 0; from < y.N; from += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		to := min(y.N, from+bs)
		idx := make([]int, bs)
		for i := range idx {
			idx[i] = min(from+i, to-1)
		}
		mk := batch.New(bs, y.H, y.W, y.C)
		if m != nil {
			mk = m.Gather(idx)
		}
		res, err := exec.Exec(imageTensor(toModel(y.Gather(idx))), imageTensor(mk))
		if err != nil {
			return nil, err
		}
		vals, err := tensors.CopyFlatData[float32](res[0])
		res[0].FinalizeAll()
		if err != nil {
			return nil, err
		}
		for i := range (to - from) * sz {
			out.Data[from*sz+i] = (vals[i] + 1) / 2
		}
	}
	return out, nil
}
