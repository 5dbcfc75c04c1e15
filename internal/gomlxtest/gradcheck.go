package gomlxtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LayerFn builds a layer's output from its inputs; its variables live in ctx.
type LayerFn func(ctx *context.Context, in []*graph.Node) *graph.Node

// TrainableVars lists ctx's trainable variables in their (deterministic) creation order.
func TrainableVars(ctx *context.Context) []*context.Variable {
	var vs []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable {
			vs = append(vs, v)
		}
	}
	return vs
}

// RandomizeVars sets every trainable variable of ctx to seeded values uniform in [-1, 1), so
// that checks do not run at initializations (zeros, ones) that would hide errors.
func RandomizeVars(ctx *context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, v := range TrainableVars(ctx) {
		v.MustSetValue(RandTensor(rng, v.DType(), 1, v.Shape().Dimensions...))
	}
}

// GradCheck, after setting the trainable variables to random values (RandomizeVars), checks
// the gradient of loss = Σ out ⊙ R (R a fixed random tensor, so no symmetry of the layer can
// hide an error) with respect to every input and every trainable variable against central
// finite differences (L(θ+h) - L(θ-h)) / 2h, on at most maxCoords seeded coordinates per
// tensor. Inputs must be float64; h = 1e-6, tolerance |fd - grad| <= 1e-6 + 1e-5·|grad|
// (truncation O(h²) and round-off O(ε·|L|/h) are both below 1e-8 at these sizes).
func GradCheck(t *testing.T, b backends.Backend, seed uint64, fn LayerFn, inputs ...*tensors.Tensor) {
	t.Helper()
	const (
		h         = 1e-6
		atol      = 1e-6
		rtol      = 1e-5
		maxCoords = 256
	)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		t.Fatal(err)
	}
	n := len(inputs)
	outExec := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		return fn(ctx, in)
	})
	outShape := outExec.MustExec(AnySlice(inputs)...)[0].Shape()
	RandomizeVars(ctx, seed)
	r := RandTensor(rng, outShape.DType, 1, outShape.Dimensions...)
	lossOf := func(ctx *context.Context, in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(fn(ctx, in[:n]), in[n]))
	}
	vars := TrainableVars(ctx)
	gradExec := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		loss := lossOf(ctx, in)
		wrt := slices.Clone(in[:n])
		for _, v := range vars {
			wrt = append(wrt, v.ValueGraph(loss.Graph()))
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, wrt...)...)
	})
	lossExec := context.MustNewExec(b, ctx, lossOf)
	args := append(AnySlice(inputs), r)
	grads := gradExec.MustExec(args...)[1:]
	loss := func() float64 { return Flat64(lossExec.MustExec(args...)[0])[0] }

	check := func(name string, grad *tensors.Tensor, get func() *tensors.Tensor, set func(*tensors.Tensor)) {
		t.Helper()
		base := get()
		// Copy what is needed now: setting a variable finalizes its previous value tensor.
		dtype, dims, vals := base.DType(), slices.Clone(base.Shape().Dimensions), Flat64(base)
		g := Flat64(grad)
		coords := rng.Perm(len(vals))[:min(maxCoords, len(vals))]
		fd, an := make([]float64, len(coords)), make([]float64, len(coords))
		for k, i := range coords {
			pert := slices.Clone(vals)
			pert[i] = vals[i] + h
			set(FromFlat64(dtype, pert, dims...))
			lp := loss()
			pert[i] = vals[i] - h
			set(FromFlat64(dtype, pert, dims...))
			lm := loss()
			fd[k], an[k] = (lp-lm)/(2*h), g[i]
		}
		set(FromFlat64(dtype, vals, dims...))
		AssertClose(t, "gradient of "+name+" vs finite differences", an, fd, atol, rtol)
	}
	for i := range inputs {
		check(fmt.Sprintf("input %d", i), grads[i],
			func() *tensors.Tensor { return args[i].(*tensors.Tensor) },
			func(x *tensors.Tensor) { args[i] = x })
	}
	for j, v := range vars {
		check("variable "+v.ScopeAndName(), grads[n+j],
			func() *tensors.Tensor { return v.MustValue() },
			func(x *tensors.Tensor) { v.MustSetValue(x) })
	}
}
