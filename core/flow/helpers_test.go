package flow

import (
	"cmp"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// testGoConfig is the pure-Go backend's configuration in tests (see gomlxtest.Backend): nn's
// (independent ops at the same time in an unbounded pool: see nn.PortableBackendConfig), or
// $NN_GO_CONFIG when set (as in core/nn's tests; for example "go:ops_sequential").
var testGoConfig = cmp.Or(os.Getenv("NN_GO_CONFIG"), nn.PortableBackendConfig)

// normalTensor returns a tensor with N(0, 1) entries, seeded.
func normalTensor(rng *rand.Rand, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	data := make([]float64, shapes.Make(dtype, dims...).Size())
	for i := range data {
		data[i] = rng.NormFloat64()
	}
	return gomlxtest.FromFlat64(dtype, data, dims...)
}

// maxAbsDiff returns max_i |a_i - b_i| (+Inf on a NaN).
func maxAbsDiff(a, b []float64) float64 {
	worst := 0.0
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		worst = max(worst, d)
	}
	return worst
}

// allFinite reports whether every value is finite.
func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// flowVars lists the trainable variables of the flow in ctx, in creation order.
func flowVars(ctx *context.Context) []*context.Variable {
	var vs []*context.Variable
	for v := range ctx.In(Scope).IterVariablesInScope() {
		if v.Trainable {
			vs = append(vs, v)
		}
	}
	return vs
}

// perturbVars adds amp·U[-1, 1)·scale (seeded) to every trainable flow variable, scale being
// 1/sqrt(fan-in) for matrices and kernels (all axes but the last) and 1 for vectors, so that tests
// do not run at the identity initialization (zero last coupling layers, zero actnorm, identity LU
// factors), which would hide errors, while the network stays in the regime of a trained flow.
func perturbVars(ctx *context.Context, seed uint64, amp float64) {
	perturbList(flowVars(ctx), seed, amp)
}

// perturbList is perturbVars for the given variables.
func perturbList(vars []*context.Variable, seed uint64, amp float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, v := range vars {
		vals := gomlxtest.Flat64(v.MustValue())
		scale := 1.0
		if dims := v.Shape().Dimensions; len(dims) >= 2 {
			scale = 1 / math.Sqrt(float64(len(vals)/dims[len(dims)-1]))
		}
		for i := range vals {
			vals[i] += amp * scale * (2*rng.Float64() - 1)
		}
		v.MustSetValue(gomlxtest.FromFlat64(v.DType(), vals, v.Shape().Dimensions...))
	}
}

// testFlow is a flow with compiled Generate and Inverse executables in one context.
type testFlow struct {
	ctx      *context.Context
	cfg      Config
	gen, inv *context.Exec
}

// newTestFlow compiles Generate and Inverse for cfg in a fresh context seeded with seed, runs
// Generate once on (z, cond) to create and initialize the variables and, when amp > 0, perturbs
// them (perturbVars). A nil cond builds the unconditional flow.
func newTestFlow(t testing.TB, cfg Config, seed uint64, amp float64, z, cond *tensors.Tensor) *testFlow {
	t.Helper()
	b := gomlxtest.Backend(t, testGoConfig)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		t.Fatal(err)
	}
	f := &testFlow{ctx: ctx, cfg: cfg}
	build := func(fn func(*context.Context, Config, *graph.Node, *graph.Node) (*graph.Node, *graph.Node)) *context.Exec {
		if cond == nil {
			return context.MustNewExec(b, ctx, func(ctx *context.Context, x *graph.Node) (*graph.Node, *graph.Node) {
				return fn(ctx, cfg, x, nil)
			})
		}
		return context.MustNewExec(b, ctx, func(ctx *context.Context, x, c *graph.Node) (*graph.Node, *graph.Node) {
			return fn(ctx, cfg, x, c)
		})
	}
	f.gen, f.inv = build(Generate), build(Inverse)
	f.run(f.gen, z, cond)
	if amp > 0 {
		perturbVars(ctx, seed, amp)
	}
	return f
}

// run executes e on (x, cond) and returns its two outputs as float64 slices.
func (f *testFlow) run(e *context.Exec, x, cond *tensors.Tensor) (out, logdet []float64) {
	args := []any{x}
	if cond != nil {
		args = append(args, cond)
	}
	res := e.MustExec(args...)
	out, logdet = gomlxtest.Flat64(res[0]), gomlxtest.Flat64(res[1])
	for _, r := range res {
		r.FinalizeAll()
	}
	return out, logdet
}

// logAbsDet returns log|det a| of the n x n row-major matrix a by LU with partial pivoting.
func logAbsDet(a []float64, n int) float64 {
	m := slices.Clone(a)
	sum := 0.0
	for k := range n {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(m[i*n+k]) > math.Abs(m[p*n+k]) {
				p = i
			}
		}
		if m[p*n+k] == 0 {
			return math.Inf(-1)
		}
		for j := range n {
			m[k*n+j], m[p*n+j] = m[p*n+j], m[k*n+j]
		}
		sum += math.Log(math.Abs(m[k*n+k]))
		for i := k + 1; i < n; i++ {
			r := m[i*n+k] / m[k*n+k]
			for j := k; j < n; j++ {
				m[i*n+j] -= r * m[k*n+j]
			}
		}
	}
	return sum
}

// shapesOf is a float32 shape with the given dimensions.
func shapesOf(dims []int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }

// perturbAmp is the perturbation of the weights in the tests (see perturbVars): it gives
// log-determinants of 90-450 nats on 28x28 images with the default config, far from the
// identity, while keeping the flow within float32's reach (at 0.3, Inverse maps some N(0, 1)
// images to |z| ~ 3e3, where float32 round trips lose 1e-3).
const perturbAmp = 0.2
