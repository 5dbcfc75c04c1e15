package baselines

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// DDPM is the denoising objective of DDPM (Ho et al. 2020, eq. 14, L_simple) on a fixed set
// of images in [0,1] intensities, trained in model units u = 2x-1:
//
//	L = E_{t ~ U{1..T}, eps} || eps - eps_theta(sqrt(abar_t) u + sqrt(1-abar_t) eps, t) ||² / D
//
// The naive baseline gives it the observations y, as if they were clean; the clean-data
// oracle gives it the clean training images. It is diffusion.DenoiseLoss with uniform t, the
// loss FlowDiff's diffusion step trains on (there on the flow's samples).
type DDPM struct {
	name   string
	images *batch.Batch
	unet   diffusion.UNetConfig
	sched  *diffusion.Schedule
}

// NewDDPM returns the objective named name (for checkpoints and logs) on images.
func NewDDPM(name string, images *batch.Batch, unet diffusion.UNetConfig, sched *diffusion.Schedule) (*DDPM, error) {
	if images == nil || images.N == 0 {
		return nil, fmt.Errorf("%s: no training images", name)
	}
	if err := unet.Validate(images.H, images.W, images.C); err != nil {
		return nil, fmt.Errorf("%s: train.unet: %w", name, err)
	}
	return &DDPM{name: name, images: images, unet: unet, sched: sched}, nil
}

// Images returns the images the objective trains on (what the tests check: the naive
// baseline's are the observations).
func (d *DDPM) Images() *batch.Batch { return d.images }

// Name implements Objective.
func (d *DDPM) Name() string { return d.name }

// Terms implements Objective.
func (d *DDPM) Terms() []string { return []string{"dm_loss"} }

// Len implements Objective.
func (d *DDPM) Len() int { return d.images.N }

// Inputs implements Objective: u = 2x-1 of the images idx, then t, sqrt(abar_t),
// sqrt(1-abar_t) and eps as diffusion.Schedule.LossInputs draws them (uniform t).
func (d *DDPM) Inputs(rng *rand.Rand, idx []int, _ int) []any {
	u := toModel(d.images.Gather(idx))
	li := d.sched.LossInputs(rng, u.Shape, diffusion.Uniform)
	return []any{imageTensor(u), imageTensor(li.Eps), tensors.FromValue(li.T), tensors.FromValue(li.SqrtAbar),
		tensors.FromValue(li.SqrtOneMinusAbar)}
}

// Loss implements Objective.
func (d *DDPM) Loss(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	return []*graph.Node{diffusion.DenoiseLoss(ctx, d.unet, in[0], in[1], in[2], in[3], in[4])}
}

// toModel returns u = 2x-1 (a new batch): images in [0,1] in the diffusion model's units.
func toModel(x *batch.Batch) *batch.Batch {
	u := x.Clone()
	for i, v := range u.Data {
		u.Data[i] = 2*v - 1
	}
	return u
}

// imageTensor is b as an [N,H,W,C] float32 tensor.
func imageTensor(b *batch.Batch) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(b.Data, b.Dims()...)
}

var _ Objective = (*DDPM)(nil)
