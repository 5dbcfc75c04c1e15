package operators

import (
	"context"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
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
func Opaque(op Operator) Operator {
	if IsLinear(op) {
		return opaqueLinear{opaqueOp{op}}
	}
	return opaqueOp{op}
}

// OpaqueNoise returns nm with its in-graph likelihood (GraphNoise) hidden, as a plugin noise
// model has none; it keeps NoiseMoments when nm states its moments.
func OpaqueNoise(nm NoiseModel) NoiseModel {
	if m, ok := nm.(NoiseMoments); ok {
		return opaqueMoments{opaqueNoise{nm}, m}
	}
	return opaqueNoise{nm}
}

// opaqueOp forwards the plain Operator methods only.
type opaqueOp struct{ op Operator }

func (o opaqueOp) OutShape(in batch.Shape) (batch.Shape, error) { return o.op.OutShape(in) }

func (o opaqueOp) SampleParams(rng *rand.Rand, in batch.Shape) (Params, error) {
	return o.op.SampleParams(rng, in)
}

func (o opaqueOp) Apply(ctx context.Context, x *batch.Batch, p Params) (*batch.Batch, error) {
	return o.op.Apply(ctx, x, p)
}

func (o opaqueOp) VJP(ctx context.Context, x, v *batch.Batch, p Params) (*batch.Batch, error) {
	return o.op.VJP(ctx, x, v, p)
}

// opaqueLinear adds the linearity declaration.
type opaqueLinear struct{ opaqueOp }

func (opaqueLinear) IsLinear() bool { return true }

// opaqueNoise forwards the plain NoiseModel methods only.
type opaqueNoise struct{ nm NoiseModel }

func (o opaqueNoise) Sample(rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	return o.nm.Sample(rng, ax)
}

func (o opaqueNoise) NLL(y, ax *batch.Batch) ([]float64, error) { return o.nm.NLL(y, ax) }

func (o opaqueNoise) NLLGrad(y, ax *batch.Batch) (*batch.Batch, error) { return o.nm.NLLGrad(y, ax) }

// opaqueMoments adds the moments.
type opaqueMoments struct {
	opaqueNoise
	m NoiseMoments
}

func (o opaqueMoments) Moments(ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	return o.m.Moments(ax)
}

var (
	_ Operator       = opaqueOp{}
	_ LinearOperator = opaqueLinear{}
	_ NoiseModel     = opaqueNoise{}
	_ NoiseMoments   = opaqueMoments{}
)
