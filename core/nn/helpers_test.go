package nn

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// forEachBackend runs fn as a subtest on every GoMLX backend registered in this test binary (the
// test imports simplego, "go"; a build that also links xla runs it there too).
func forEachBackend(t *testing.T, fn func(t *testing.T, b backends.Backend)) {
	t.Helper()
	for _, name := range backends.List() {
		t.Run(name, func(t *testing.T) {
			config := name
			if name == PortableBackend {
				config = testGoConfig
			}
			b, err := backends.NewWithConfig(config)
			if err != nil {
				t.Skipf("backend %q not usable here: %v", name, err)
			}
			fn(t, b)
		})
	}
}

// testGoConfig is the backend configuration tests and benchmarks use for the pure-Go backend:
// PortableBackendConfig (see there why ops run sequentially), or $NN_GO_CONFIG when set (for
// example "go" to benchmark the default, parallel op scheduling).
var testGoConfig = cmp.Or(os.Getenv("NN_GO_CONFIG"), PortableBackendConfig)

// goBackend returns the pure-Go backend, used by benchmarks and by tests that are about it.
func goBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	b, err := backends.NewWithConfig(testGoConfig)
	if err != nil {
		tb.Fatalf("backend %q: %v", PortableBackend, err)
	}
	return b
}

// randTensor returns a float64 (or float32) tensor with entries uniform in [-1, 1), seeded.
func randTensor(rng *rand.Rand, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	n := shapes.Make(dtype, dims...).Size()
	if dtype == dtypes.Float32 {
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(2*rng.Float64() - 1)
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	}
	data := make([]float64, n)
	for i := range data {
		data[i] = 2*rng.Float64() - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// flat64 copies a float32 or float64 tensor into a []float64.
func flat64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	panic(fmt.Sprintf("flat64: unsupported dtype %s", t.DType()))
}

// fromFlat64 builds a tensor of the given dtype from float64 data.
func fromFlat64(dtype dtypes.DType, data []float64, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return tensors.FromFlatDataAndDimensions(slices.Clone(data), dims...)
}

// assertClose fails when |got-want| > atol + rtol*|want| anywhere, reporting the worst index.
func assertClose(t *testing.T, what string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	worst, worstIdx := 0.0, -1
	for i := range got {
		err := math.Abs(got[i] - want[i])
		if math.IsNaN(got[i]) || math.IsNaN(want[i]) {
			err = math.Inf(1)
		}
		if excess := err - (atol + rtol*math.Abs(want[i])); excess > worst {
			worst, worstIdx = excess, i
		}
	}
	if worstIdx >= 0 {
		t.Errorf("%s: index %d: got %.10g, want %.10g (atol %g, rtol %g)",
			what, worstIdx, got[worstIdx], want[worstIdx], atol, rtol)
	}
}

// layerFn builds a layer's output from its inputs; variables live in ctx.
type layerFn func(ctx *context.Context, in []*graph.Node) *graph.Node

// trainableVars lists ctx's trainable variables in their (deterministic) creation order.
func trainableVars(ctx *context.Context) []*context.Variable {
	var vs []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable {
			vs = append(vs, v)
		}
	}
	return vs
}

// gradCheck, after setting the trainable variables to random values (randomizeVars), checks the
// gradient of loss = Σ out ⊙ R (R a fixed random tensor, so no symmetry of
// the layer can hide an error) with respect to every input and every trainable variable against
// central finite differences (L(θ+h) - L(θ-h)) / 2h, on at most maxCoords seeded coordinates per
// tensor. Inputs must be float64; h = 1e-6, tolerance |fd - grad| <= 1e-6 + 1e-5·|grad|
// (truncation O(h²) and round-off O(ε·|L|/h) are both below 1e-8 at these sizes).
func gradCheck(t *testing.T, b backends.Backend, seed uint64, fn layerFn, inputs ...*tensors.Tensor) {
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
	outShape := outExec.MustExec(anySlice(inputs)...)[0].Shape()
	randomizeVars(ctx, seed)
	r := randTensor(rng, outShape.DType, outShape.Dimensions...)
	lossOf := func(ctx *context.Context, in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(fn(ctx, in[:n]), in[n]))
	}
	vars := trainableVars(ctx)
	gradExec := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		loss := lossOf(ctx, in)
		wrt := slices.Clone(in[:n])
		for _, v := range vars {
			wrt = append(wrt, v.ValueGraph(loss.Graph()))
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, wrt...)...)
	})
	lossExec := context.MustNewExec(b, ctx, lossOf)
	args := append(anySlice(inputs), r)
	grads := gradExec.MustExec(args...)[1:]
	loss := func() float64 { return flat64(lossExec.MustExec(args...)[0])[0] }

	check := func(name string, grad *tensors.Tensor, get func() *tensors.Tensor, set func(*tensors.Tensor)) {
		base := get()
		// Copy what is needed now: setting a variable finalizes its previous value tensor.
		dtype, dims, vals := base.DType(), slices.Clone(base.Shape().Dimensions), flat64(base)
		g := flat64(grad)
		coords := rng.Perm(len(vals))[:min(maxCoords, len(vals))]
		fd, an := make([]float64, len(coords)), make([]float64, len(coords))
		for k, i := range coords {
			pert := slices.Clone(vals)
			pert[i] = vals[i] + h
			set(fromFlat64(dtype, pert, dims...))
			lp := loss()
			pert[i] = vals[i] - h
			set(fromFlat64(dtype, pert, dims...))
			lm := loss()
			fd[k], an[k] = (lp-lm)/(2*h), g[i]
		}
		set(fromFlat64(dtype, vals, dims...))
		assertClose(t, "gradient of "+name+" vs finite differences", an, fd, atol, rtol)
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

// anySlice converts tensors to []any for Exec calls.
func anySlice(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// runCtx builds fn in a fresh seeded context, runs it on inputs, and returns the output and the
// context (whose variables the caller may read to compute a reference).
func runCtx(t testing.TB, b backends.Backend, seed int64, fn layerFn, inputs ...*tensors.Tensor) (*tensors.Tensor, *context.Context) {
	t.Helper()
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	e := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node { return fn(ctx, in) })
	e.MustExec(anySlice(inputs)...) // creates and initializes the variables
	randomizeVars(ctx, uint64(seed))
	return e.MustExec(anySlice(inputs)...)[0], ctx
}

// randomizeVars sets every trainable variable to seeded values uniform in [-1, 1), so that
// checks do not run at initializations (zeros, ones) that would hide errors.
func randomizeVars(ctx *context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, v := range trainableVars(ctx) {
		v.MustSetValue(randTensor(rng, v.DType(), v.Shape().Dimensions...))
	}
}

// varValue returns the float64 values of the variable scope/name, failing if absent.
func varValue(t *testing.T, ctx *context.Context, scope, name string) []float64 {
	t.Helper()
	v := ctx.GetVariableByScopeAndName(scope, name)
	if v == nil {
		var names []string
		for v := range ctx.IterVariables() {
			names = append(names, v.ScopeAndName())
		}
		t.Fatalf("variable %s/%s not found; have %v", scope, name, names)
	}
	return flat64(v.MustValue())
}
