package operators

import (
	"context"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Opaque returns op with its in-graph form hidden: the result implements Operator and, when op
// declares itself linear, LinearOperator, but never GraphOperator. Training (core/train) and
// DPS (core/diffusion) therefore take the gradient-injection path for it, the path an operator
// served by an out-of-process plugin takes: A(x) and J_A(x)ᵀ v are computed by Apply and VJP
// outside the GoMLX graph and enter it through the surrogate <stopgrad(g), x>.
//
// It forces the injected path: use it to compare that path with the in-graph one on the same
// built-in operator (the tests of core/train and core/diffusion do), or to run an operator
// whose in-graph form is slow on a backend without it.
func Opaque(op part.Operator) part.Operator {
	if part.IsLinear(op) {
		return opaqueLinear{opaqueOp{op}}
	}
	return opaqueOp{op}
}

// OpaqueNoise returns nm with its in-graph likelihood (GraphNoise) hidden, as a plugin noise
// model has none; it keeps NoiseMoments when nm states its moments.
func OpaqueNoise(nm part.NoiseModel) part.NoiseModel {
	if m, ok := nm.(part.NoiseMoments); ok {
		return opaqueMoments{opaqueNoise{nm}, m}
	}
	return opaqueNoise{nm}
}

// opaqueOp forwards the plain Operator methods only.
type opaqueOp struct{ op part.Operator }

func (o opaqueOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	return o.op.OutShape(ctx, in)
}

func (o opaqueOp) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	return o.op.SampleParams(ctx, rng, in)
}

func (o opaqueOp) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return o.op.Apply(ctx, x, p)
}

func (o opaqueOp) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	return o.op.VJP(ctx, x, v, p)
}

// opaqueLinear adds the linearity declaration.
type opaqueLinear struct{ opaqueOp }

func (opaqueLinear) IsLinear() bool { return true }

// opaqueNoise forwards the plain NoiseModel methods only.
type opaqueNoise struct{ nm part.NoiseModel }

func (o opaqueNoise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	return o.nm.Sample(ctx, rng, ax)
}

func (o opaqueNoise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	return o.nm.NLL(ctx, y, ax)
}

func (o opaqueNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	return o.nm.NLLGrad(ctx, y, ax)
}

// opaqueMoments adds the moments.
type opaqueMoments struct {
	opaqueNoise
	m part.NoiseMoments
}

func (o opaqueMoments) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	return o.m.Moments(ctx, ax)
}

var (
	_ part.Operator       = opaqueOp{}
	_ part.LinearOperator = opaqueLinear{}
	_ part.NoiseModel     = opaqueNoise{}
	_ part.NoiseMoments   = opaqueMoments{}
)
