package diffusion

import (
	"context"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Model units. The diffusion model works on u = 2x-1 of images x in [0,1] intensities, the
// [-1,1] range DDPM's schedule is designed for (Ho et al. 2020, sec. 3.3; core/train trains it
// so). A sampler clips its estimates to ModelClip and ToImage maps its samples back; an
// operator that acts on intensities guides DPS through InModelRange.

// ModelClip is the range of the diffusion model's images, [-1, 1] (2x-1 of [0,1]): the
// SampleOptions.Clip of a sampler drawing images.
var ModelClip = [2]float64{-1, 1}

// ToImage maps model units to [0,1] intensities, x = (u+1)/2, clipped to [0,1]. It returns a
// new batch.
func ToImage(b *batch.Batch) *batch.Batch {
	out := b.Clone()
	for i, v := range out.Data {
		out.Data[i] = min(1, max(0, (v+1)/2))
	}
	return out
}

// toUnit maps model units to intensities, (u+1)/2, unclipped (a new batch).
func toUnit(x *batch.Batch) *batch.Batch {
	u := x.Clone()
	for i, v := range u.Data {
		u.Data[i] = (v + 1) / 2
	}
	return u
}

// modelRangeOp applies A to model-unit images: B(u) = A((u+1)/2), so DPS can guide the U-Net's
// x0_hat with the observations' operator, which acts on [0,1] intensities. Its VJP is
// J_A((u+1)/2)ᵀ v / 2.
type modelRangeOp struct{ part.Operator }

// Apply implements part.Operator: A((u+1)/2).
func (m modelRangeOp) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return m.Operator.Apply(ctx, toUnit(x), p)
}

// VJP implements part.Operator: J_A((u+1)/2)ᵀ v / 2.
func (m modelRangeOp) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	g, err := m.Operator.VJP(ctx, toUnit(x), v, p)
	if err != nil {
		return nil, err
	}
	for i := range g.Data {
		g.Data[i] /= 2
	}
	return g, nil
}

// modelRangeGraphOp is modelRangeOp for an A with an in-graph form, which it keeps.
type modelRangeGraphOp struct{ modelRangeOp }

// ApplyGraph implements operators.GraphOperator: A's in-graph form at (u+1)/2.
func (m modelRangeGraphOp) ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node {
	return m.Operator.(operators.GraphOperator).ApplyGraph(graph.MulScalar(graph.AddScalar(x, 1), 0.5), p)
}

// InModelRange returns the operator B(u) = A((u+1)/2) on model-unit images u, the DPSProblem.Op
// that guides the model's samples with observations y ≈ A(x) of intensities x. B keeps A's
// in-graph form when A has one (operators.HasGraph), so DPS differentiates it inside the step
// graph; otherwise (a plugin's operator) DPS takes the gradient-injection path through Apply
// and VJP.
func InModelRange(op part.Operator) part.Operator {
	if operators.HasGraph(op) {
		return modelRangeGraphOp{modelRangeOp{op}}
	}
	return modelRangeOp{op}
}

var (
	_ part.Operator           = modelRangeOp{}
	_ operators.GraphOperator = modelRangeGraphOp{}
)
