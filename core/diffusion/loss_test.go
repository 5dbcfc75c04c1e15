package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// gradCfg is a small U-Net for float64 gradient checks: 8x8 images, patch 2, levels 4x4 and 2x2.
var gradCfg = UNetConfig{Channels: 4, Multipliers: []int{1, 2}, TimeEmbed: 8}

// lossCase holds the float64 inputs of a loss evaluation: x0, eps [N,8,8,1] and the per-sample
// t, sqrt(abar), sqrt(1-abar), weight.
type lossCase struct {
	x0, eps, t, s0, s1, w *tensors.Tensor
}

func newLossCase(seed uint64, n int) lossCase {
	rng := rand.New(rand.NewPCG(seed, 5))
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	shape := batch.Shape{N: n, H: 8, W: 8, C: 1}
	in := sched.LossInputs(rng, shape, Importance)
	x0 := randomBatch(rng, shape)
	w := slices.Clone(in.Weight)
	for i := range w {
		w[i] *= float32(1 + i) // distinct per-sample weights
	}
	return lossCase{
		x0: f64Tensor(x0.Data, shape.Dims()...), eps: f64Tensor(in.Eps.Data, shape.Dims()...),
		t: f64Tensor(in.T, n), s0: f64Tensor(in.SqrtAbar, n), s1: f64Tensor(in.SqrtOneMinusAbar, n), w: f64Tensor(w, n),
	}
}

func (c lossCase) args() []any { return []any{c.x0, c.eps, c.t, c.s0, c.s1, c.w} }

// TestLossGradients checks the gradients of DenoiseLoss and of Σ_n PriorTerm with respect to x0
// and to U-Net variables of every kind (convolution, dense, normalization, time embedding)
// against central finite differences in float64, with the variables set to random values (at
// initialization the zero last convolution would hide most gradients). Step h = 1e-5;
// tolerance |fd - grad| <= 1e-7 + 1e-5·|grad| (truncation O(h²) ≈ 1e-10, round-off
// O(1e-16·|L|/h) ≈ 1e-11 at these sizes).
func TestLossGradients(t *testing.T) {
	const (
		h         = 1e-5
		atol      = 1e-7
		rtol      = 1e-5
		perTensor = 6 // coordinates checked per tensor
	)
	checked := []string{
		"/unet/in/conv/weights",
		"/unet/time_embedding/dense0/dense/weights",
		"/unet/down0_0/resblock/conv0/conv/weights",
		"/unet/down1_0/resblock/norm1/group_norm/scale",
		"/unet/mid/resblock/temb/dense/weights",
		"/unet/up1_proj/dense/weights",
		"/unet/out/conv/weights",
	}
	losses := map[string]func(ctx *context.Context, in []*graph.Node) *graph.Node{
		"DenoiseLoss": func(ctx *context.Context, in []*graph.Node) *graph.Node {
			return DenoiseLoss(ctx, gradCfg, in[0], in[1], in[2], in[3], in[4])
		},
		"PriorTerm": func(ctx *context.Context, in []*graph.Node) *graph.Node {
			return graph.ReduceAllSum(PriorTerm(ctx, gradCfg, in[0], in[1], in[2], in[3], in[4], in[5]))
		},
	}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for _, name := range []string{"DenoiseLoss", "PriorTerm"} {
			t.Run(name, func(t *testing.T) {
				lossFn := losses[name]
				c := newLossCase(11, 2)
				args := c.args()
				ctx := seededContext(t, 2)
				lossExec := context.MustNewExec(b, ctx, lossFn)
				lossExec.MustExec(args...) // creates the variables
				rng := rand.New(rand.NewPCG(3, 3))
				var vars []*context.Variable
				for _, v := range trainableVars(ctx, "/"+UNetScope) {
					v.MustSetValue(f64Tensor(randomBatch(rng, batch.Shape{N: v.Shape().Size(), H: 1, W: 1, C: 1}).Data,
						v.Shape().Dimensions...))
					if slices.Contains(checked, v.ScopeAndName()) {
						vars = append(vars, v)
					}
				}
				if len(vars) != len(checked) {
					t.Fatalf("found %d of the variables %v", len(vars), checked)
				}
				gradExec := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
					loss := lossFn(ctx, in)
					wrt := []*graph.Node{in[0]}
					for _, v := range vars {
						wrt = append(wrt, v.ValueGraph(loss.Graph()))
					}
					return graph.Gradient(loss, wrt...)
				})
				grads := gradExec.MustExec(args...)
				loss := func() float64 { return gomlxtest.Flat64(lossExec.MustExec(args...)[0])[0] }
				check := func(what string, grad *tensors.Tensor, get func() *tensors.Tensor, set func(*tensors.Tensor)) {
					base := get()
					dims, vals, g := slices.Clone(base.Shape().Dimensions), gomlxtest.Flat64(base), gomlxtest.Flat64(grad)
					nonzero := 0
					for _, i := range rng.Perm(len(vals))[:min(perTensor, len(vals))] {
						pert := slices.Clone(vals)
						pert[i] = vals[i] + h
						set(tensors.FromFlatDataAndDimensions(slices.Clone(pert), dims...))
						lp := loss()
						pert[i] = vals[i] - h
						set(tensors.FromFlatDataAndDimensions(slices.Clone(pert), dims...))
						lm := loss()
						fd := (lp - lm) / (2 * h)
						if math.Abs(fd-g[i]) > atol+rtol*math.Abs(g[i]) || math.IsNaN(g[i]) {
							t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", what, i, g[i], fd)
						}
						if math.Abs(g[i]) > 1e-6 {
							nonzero++
						}
					}
					set(tensors.FromFlatDataAndDimensions(vals, dims...))
					if nonzero == 0 {
						t.Errorf("%s: every checked gradient entry is ~0, the check proves nothing", what)
					}
				}
				check("x0", grads[0], func() *tensors.Tensor { return args[0].(*tensors.Tensor) },
					func(x *tensors.Tensor) { args[0] = x })
				for j, v := range vars {
					check(v.ScopeAndName(), grads[1+j], func() *tensors.Tensor { return v.MustValue() },
						func(x *tensors.Tensor) { v.MustSetValue(x) })
				}
			})
		}
	})
}

// TestPriorTermMatchesDenoiseLoss checks the normalizations against each other: with unit
// weights, PriorTerm is per-sample Σ_pixels of the squared residual whose mean over the batch
// and the D pixels is DenoiseLoss (float32, same model and inputs; tolerance 1e-5 relative).
func TestPriorTermMatchesDenoiseLoss(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	rng := rand.New(rand.NewPCG(4, 4))
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	shape := batch.Shape{N: 3, H: 8, W: 8, C: 1}
	in := sched.LossInputs(rng, shape, Uniform)
	x0 := randomBatch(rng, shape)
	ctx := seededContext(t, 4)
	cfg := UNetConfig{Channels: 8, Multipliers: []int{1, 2}, Patch: 1}
	if err := InitUNet(b, ctx, cfg, shape); err != nil {
		t.Fatal(err)
	}
	for _, v := range trainableVars(ctx, "/"+UNetScope) { // move off the zero last conv
		r := randomBatch(rng, batch.Shape{N: v.Shape().Size(), H: 1, W: 1, C: 1})
		v.MustSetValue(tensors.FromFlatDataAndDimensions(r.Data, v.Shape().Dimensions...))
	}
	e := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		ones := graph.OnesLike(in[2])
		return []*graph.Node{
			DenoiseLoss(ctx, cfg, in[0], in[1], in[2], in[3], in[4]),
			PriorTerm(ctx, cfg, in[0], in[1], in[2], in[3], in[4], ones),
		}
	})
	out := e.MustExec(tensors.FromFlatDataAndDimensions(x0.Data, shape.Dims()...),
		tensors.FromFlatDataAndDimensions(in.Eps.Data, shape.Dims()...),
		tensors.FromFlatDataAndDimensions(in.T, shape.N), tensors.FromFlatDataAndDimensions(in.SqrtAbar, shape.N),
		tensors.FromFlatDataAndDimensions(in.SqrtOneMinusAbar, shape.N))
	dm, prior := gomlxtest.Flat64(out[0])[0], gomlxtest.Flat64(out[1])
	mean := 0.0
	for _, p := range prior {
		mean += p / float64(len(prior)*shape.ImageSize())
	}
	if math.Abs(mean-dm) > 1e-5*math.Abs(dm) {
		t.Errorf("mean PriorTerm / D = %v, DenoiseLoss = %v", mean, dm)
	}
}

// TestLossInputs checks the drawn weights against the two estimators' definitions and that the
// draw is reproducible.
func TestLossInputs(t *testing.T) {
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	shape := batch.Shape{N: 64, H: 2, W: 2, C: 1}
	for _, how := range []TimeSampling{Uniform, Importance} {
		t.Run(how.String(), func(t *testing.T) {
			a := sched.LossInputs(rand.New(rand.NewPCG(9, 9)), shape, how)
			b := sched.LossInputs(rand.New(rand.NewPCG(9, 9)), shape, how)
			if !slices.Equal(a.Steps, b.Steps) || !slices.Equal(a.Eps.Data, b.Eps.Data) {
				t.Fatal("same seed, different draws")
			}
			for k, i := range a.Steps {
				want := float32(sched.ELBOTotal)
				if how == Uniform {
					want = float32(float64(sched.Steps()) * sched.ELBOWeight[i])
				}
				if a.Weight[k] != want || a.T[k] != float32(i) {
					t.Fatalf("sample %d: step %d, weight %v, t %v; want weight %v", k, i, a.Weight[k], a.T[k], want)
				}
				if d := float64(a.SqrtAbar[k]*a.SqrtAbar[k]+a.SqrtOneMinusAbar[k]*a.SqrtOneMinusAbar[k]) - 1; math.Abs(d) > 1e-6 {
					t.Fatalf("abar + (1-abar) = 1%+g", d)
				}
			}
		})
	}
	if fmt.Sprint(TimeSampling(7)) != "TimeSampling(7)" {
		t.Error("unknown TimeSampling formatting")
	}
}
