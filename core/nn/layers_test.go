package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// Plain-Go references, float64, flat row-major data. Tolerances for value checks are 1e-10
// (1e-12 for pure sums of products): float64 evaluation of the same formulas in another order.

func refDense(x []float64, rows, in int, w []float64, out int, b []float64) []float64 {
	y := make([]float64, rows*out)
	for r := range rows {
		for o := range out {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := range in {
				s += x[r*in+i] * w[i*out+o]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func refGroupNorm(x []float64, n, c, groups int, scale, offset []float64) []float64 {
	spatial := len(x) / (n * c)
	cg := c / groups
	y := make([]float64, len(x))
	for b := range n {
		for g := range groups {
			var sum, sq float64
			for s := range spatial {
				for j := range cg {
					sum += x[(b*spatial+s)*c+g*cg+j]
				}
			}
			cnt := float64(spatial * cg)
			mean := sum / cnt
			for s := range spatial {
				for j := range cg {
					d := x[(b*spatial+s)*c+g*cg+j] - mean
					sq += d * d
				}
			}
			inv := 1 / math.Sqrt(sq/cnt+GroupNormEpsilon)
			for s := range spatial {
				for j := range cg {
					i := (b*spatial+s)*c + g*cg + j
					y[i] = (x[i]-mean)*inv*scale[g*cg+j] + offset[g*cg+j]
				}
			}
		}
	}
	return y
}

func refSiLU(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v / (1 + math.Exp(-v))
	}
	return y
}

func refAdd(a, b []float64) []float64 {
	y := make([]float64, len(a))
	for i := range a {
		y[i] = a[i] + b[i]
	}
	return y
}

// layerCase is one value check and finite-difference check of a layer.
type layerCase struct {
	name   string
	inputs [][]int
	fn     gomlxtest.LayerFn
	// ref computes the expected output from the inputs and the context's variables.
	ref func(t *testing.T, ctx *context.Context, in [][]float64) []float64
	// slow marks cases whose finite-difference check is skipped under -short.
	slow bool
}

func runLayerCases(t *testing.T, cases []layerCase) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 20))
				var ins []*tensors.Tensor
				var flat [][]float64
				for _, d := range tc.inputs {
					x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, d...)
					ins = append(ins, x)
					flat = append(flat, gomlxtest.Flat64(x))
				}
				got, ctx := runCtx(t, b, int64(i), tc.fn, ins...)
				gomlxtest.AssertClose(t, "value", gomlxtest.Flat64(got), tc.ref(t, ctx, flat), 1e-10, 1e-10)
				if tc.slow && testing.Short() {
					return
				}
				gomlxtest.GradCheck(t, b, uint64(i), tc.fn, ins...)
			})
		}
	})
}

func TestDense(t *testing.T) {
	mk := func(dims []int, out int, bias bool) layerCase {
		in := dims[len(dims)-1]
		rows := 1
		for _, d := range dims[:len(dims)-1] {
			rows *= d
		}
		return layerCase{
			name:   fmt.Sprintf("%v->%d-bias=%v", dims, out, bias),
			inputs: [][]int{dims},
			fn: func(ctx *context.Context, x []*graph.Node) *graph.Node {
				return Dense(ctx.In("d"), x[0], out, bias)
			},
			ref: func(t *testing.T, ctx *context.Context, x [][]float64) []float64 {
				var b []float64
				if bias {
					b = varValue(t, ctx, "/d/dense", "biases")
				}
				return refDense(x[0], rows, in, varValue(t, ctx, "/d/dense", "weights"), out, b)
			},
		}
	}
	runLayerCases(t, []layerCase{
		mk([]int{3, 4}, 5, true),
		mk([]int{2, 3, 2, 4}, 3, true),
		mk([]int{5}, 2, false),
	})
}

func TestGroupNorm(t *testing.T) {
	mk := func(dims []int, groups int) layerCase {
		n, c := dims[0], dims[len(dims)-1]
		return layerCase{
			name:   fmt.Sprintf("%v-groups=%d", dims, groups),
			inputs: [][]int{dims},
			fn: func(ctx *context.Context, x []*graph.Node) *graph.Node {
				return GroupNorm(ctx.In("g"), x[0], groups)
			},
			ref: func(t *testing.T, ctx *context.Context, x [][]float64) []float64 {
				return refGroupNorm(x[0], n, c, groups,
					varValue(t, ctx, "/g/group_norm", "scale"), varValue(t, ctx, "/g/group_norm", "offset"))
			},
		}
	}
	runLayerCases(t, []layerCase{
		mk([]int{2, 3, 3, 4}, 2),
		mk([]int{2, 2, 3, 6}, 3),
		mk([]int{3, 4}, 1),
	})
	// At most 32 groups, at least 4 channels each (so a per-channel shift survives the norm).
	if got := []int{NormGroups(256), NormGroups(64), NormGroups(48), NormGroups(16), NormGroups(6), NormGroups(3)}; fmt.Sprint(got) != "[32 16 12 4 1 1]" {
		t.Errorf("NormGroups(256, 64, 48, 16, 6, 3) = %v, want [32 16 12 4 1 1]", got)
	}
}

func TestActNorm(t *testing.T) {
	const n, h, w, c = 2, 3, 2, 3
	runLayerCases(t, []layerCase{{
		name:   "forward-and-logdet",
		inputs: [][]int{{n, h, w, c}},
		fn: func(ctx *context.Context, x []*graph.Node) *graph.Node {
			y, logDet := ActNorm(ctx, x[0])
			// Pack the log-determinant next to y so one check covers both.
			return graph.Concatenate([]*graph.Node{graph.Reshape(y, n, h*w*c), graph.InsertAxes(logDet, -1)}, 1)
		},
		ref: func(t *testing.T, ctx *context.Context, x [][]float64) []float64 {
			b, s := varValue(t, ctx, "/act_norm", "bias"), varValue(t, ctx, "/act_norm", "log_scale")
			var out []float64
			for bb := range n {
				for p := range h * w {
					for ch := range c {
						out = append(out, (x[0][(bb*h*w+p)*c+ch]+b[ch])*math.Exp(s[ch]))
					}
				}
				out = append(out, float64(h*w)*(s[0]+s[1]+s[2]))
			}
			return out
		},
	}, {
		name:   "inverse-round-trip",
		inputs: [][]int{{n, h, w, c}},
		fn: func(ctx *context.Context, x []*graph.Node) *graph.Node {
			y, _ := ActNorm(ctx, x[0])
			return ActNormInverse(ctx, y)
		},
		ref: func(_ *testing.T, _ *context.Context, x [][]float64) []float64 { return x[0] },
	}})

	// Data-dependent initialization standardizes each channel of the batch it was computed on.
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		x := gomlxtest.RandTensor(rand.New(rand.NewPCG(3, 21)), dtypes.Float64, 1, n, h, w, c)
		y := graph.MustExecOnce(b, func(x *graph.Node) *graph.Node {
			bias, logScale := ActNormDataInit(x)
			return graph.Mul(graph.Add(x, graph.ExpandLeftToRank(bias, 4)), graph.ExpandLeftToRank(graph.Exp(logScale), 4))
		}, x)
		ys := gomlxtest.Flat64(y)
		for ch := range c {
			var sum, sq float64
			for i := ch; i < len(ys); i += c {
				sum += ys[i]
				sq += ys[i] * ys[i]
			}
			cnt := float64(len(ys) / c)
			if mean, variance := sum/cnt, sq/cnt-(sum/cnt)*(sum/cnt); math.Abs(mean) > 1e-12 || math.Abs(variance-1) > 1e-4 {
				t.Errorf("channel %d after data init: mean %g, variance %g; want 0 and 1 (eps shifts it by ~1e-5)", ch, mean, variance)
			}
		}
	})
}

func refEmbedding(t []float64, dim int) []float64 {
	half := dim / 2
	var out []float64
	for _, tv := range t {
		row := make([]float64, dim)
		for i := range half {
			w := math.Pow(TimeEmbeddingMaxPeriod, -float64(i)/float64(half-1))
			row[i], row[half+i] = math.Sin(tv*w), math.Cos(tv*w)
		}
		out = append(out, row...)
	}
	return out
}

func TestEmbeddings(t *testing.T) {
	const batch, base, outDim = 3, 6, 5
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		steps := []float64{0, 1, 17, 999}
		got := graph.MustExecOnce(b, func(x *graph.Node) *graph.Node { return SinusoidalEmbedding(x, 8) },
			tensors.FromValue(steps))
		gomlxtest.AssertClose(t, "SinusoidalEmbedding", gomlxtest.Flat64(got), refEmbedding(steps, 8), 1e-12, 1e-12)
	})
	runLayerCases(t, []layerCase{{
		name:   "TimeEmbedding",
		inputs: [][]int{{batch}},
		fn: func(ctx *context.Context, x []*graph.Node) *graph.Node {
			return TimeEmbedding(ctx, x[0], base, outDim)
		},
		ref: func(t *testing.T, ctx *context.Context, x [][]float64) []float64 {
			s := "/" + TimeEmbeddingScope
			h := refDense(refEmbedding(x[0], base), batch, base,
				varValue(t, ctx, s+"/dense0/dense", "weights"), outDim, varValue(t, ctx, s+"/dense0/dense", "biases"))
			return refDense(refSiLU(h), batch, outDim,
				varValue(t, ctx, s+"/dense1/dense", "weights"), outDim, varValue(t, ctx, s+"/dense1/dense", "biases"))
		},
	}})
}

// refResBlock composes the references as ResBlock documents it.
func refResBlock(t *testing.T, ctx *context.Context, x, temb []float64, n, h, w, c, tdim, o int) []float64 {
	s := "/rb/" + ResBlockScope
	gn := func(sub string, v []float64, ch int) []float64 {
		return refGroupNorm(v, n, ch, NormGroups(ch),
			varValue(t, ctx, s+"/"+sub+"/group_norm", "scale"), varValue(t, ctx, s+"/"+sub+"/group_norm", "offset"))
	}
	conv := func(sub string, v []float64, ci, k int) []float64 {
		y, _, _ := refConv2D(v, n, h, w, ci, varValue(t, ctx, s+"/"+sub+"/conv", "weights"), k, o, 1,
			varValue(t, ctx, s+"/"+sub+"/conv", "biases"))
		return y
	}
	hh := conv("conv0", refSiLU(gn("norm0", x, c)), c, 3)
	if temb != nil {
		proj := refDense(refSiLU(temb), n, tdim, varValue(t, ctx, s+"/temb/dense", "weights"), o,
			varValue(t, ctx, s+"/temb/dense", "biases"))
		for i := range hh {
			hh[i] += proj[(i/(h*w*o))*o+i%o]
		}
	}
	hh = conv("conv1", refSiLU(gn("norm1", hh, o)), o, 3)
	skip := x
	if c != o {
		skip = conv("skip", x, c, 1)
	}
	return refAdd(skip, hh)
}

func TestResBlock(t *testing.T) {
	mk := func(n, h, w, c, tdim, o int) layerCase {
		tc := layerCase{
			name:   fmt.Sprintf("x=[%d,%d,%d,%d]-temb=%d-out=%d", n, h, w, c, tdim, o),
			inputs: [][]int{{n, h, w, c}},
			slow:   true,
		}
		if tdim > 0 {
			tc.inputs = append(tc.inputs, []int{n, tdim})
		}
		tc.fn = func(ctx *context.Context, in []*graph.Node) *graph.Node {
			var temb *graph.Node
			if tdim > 0 {
				temb = in[1]
			}
			return ResBlock(ctx.In("rb"), in[0], temb, o)
		}
		tc.ref = func(t *testing.T, ctx *context.Context, in [][]float64) []float64 {
			var temb []float64
			if tdim > 0 {
				temb = in[1]
			}
			return refResBlock(t, ctx, in[0], temb, n, h, w, c, tdim, o)
		}
		return tc
	}
	runLayerCases(t, []layerCase{
		mk(2, 4, 3, 4, 3, 4),
		mk(1, 3, 4, 2, 0, 4),
	})
}

func TestSelfAttention(t *testing.T) {
	const n, h, w, c = 2, 2, 3, 4
	runLayerCases(t, []layerCase{{
		name:   "x=[2,2,3,4]",
		inputs: [][]int{{n, h, w, c}},
		slow:   true,
		fn:     func(ctx *context.Context, in []*graph.Node) *graph.Node { return SelfAttention(ctx, in[0]) },
		ref: func(t *testing.T, ctx *context.Context, in [][]float64) []float64 {
			s := "/" + AttentionScope
			hw := h * w
			hn := refGroupNorm(in[0], n, c, NormGroups(c),
				varValue(t, ctx, s+"/norm/group_norm", "scale"), varValue(t, ctx, s+"/norm/group_norm", "offset"))
			dense := func(sub string, v []float64) []float64 {
				return refDense(v, n*hw, c, varValue(t, ctx, s+"/"+sub+"/dense", "weights"), c,
					varValue(t, ctx, s+"/"+sub+"/dense", "biases"))
			}
			q, k, v := dense("q", hn), dense("k", hn), dense("v", hn)
			o := make([]float64, n*hw*c)
			for b := range n {
				for i := range hw {
					logits := make([]float64, hw)
					maxL := math.Inf(-1)
					for j := range hw {
						for ch := range c {
							logits[j] += q[(b*hw+i)*c+ch] * k[(b*hw+j)*c+ch]
						}
						logits[j] /= math.Sqrt(c)
						maxL = math.Max(maxL, logits[j])
					}
					var z float64
					for j := range logits {
						logits[j] = math.Exp(logits[j] - maxL)
						z += logits[j]
					}
					for j := range hw {
						for ch := range c {
							o[(b*hw+i)*c+ch] += logits[j] / z * v[(b*hw+j)*c+ch]
						}
					}
				}
			}
			return refAdd(in[0], dense("proj", o))
		},
	}})
}

// textbookGroupNorm is GroupNorm as this package computed it before the fused affine form:
// centre by the group mean, divide by the group deviation, then scale and shift per channel
// (implicit broadcasts). It is the reference of TestGroupNormMatchesTextbook.
func textbookGroupNorm(x, scale, offset *graph.Node, groups int) *graph.Node {
	d := x.Shape().Dimensions
	n, c := d[0], d[x.Rank()-1]
	spatial := x.Shape().Size() / (n * c)
	xr := graph.Reshape(x, n, spatial, groups, c/groups)
	mean := graph.ReduceAndKeep(xr, graph.ReduceMean, 1, 3)
	xc := graph.Sub(xr, mean)
	variance := graph.ReduceAndKeep(graph.Square(xc), graph.ReduceMean, 1, 3)
	y := graph.Reshape(graph.Mul(xc, graph.Rsqrt(graph.AddScalar(variance, GroupNormEpsilon))), d...)
	return graph.Add(graph.Mul(y, graph.ExpandLeftToRank(scale, x.Rank())), graph.ExpandLeftToRank(offset, x.Rank()))
}

// TestGroupNormMatchesTextbook compares GroupNorm's value and its gradients in x, scale and
// offset with textbookGroupNorm's, in float64 on inputs with a mean offset of 3 (so the
// variance from E[x²] - μ² is exercised away from zero mean); tolerance 1e-10 absolute and
// relative (the float64 cancellation of E[x²] - μ² at |μ|/σ ≈ 5 costs about 1e-14).
func TestGroupNormMatchesTextbook(t *testing.T) {
	cases := []struct {
		dims   []int
		groups int
	}{{[]int{2, 3, 3, 8}, 2}, {[]int{3, 5, 6}, 3}, {[]int{2, 4, 4, 4}, 1}}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range cases {
			t.Run(fmt.Sprint(tc.dims), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 21))
				c := tc.dims[len(tc.dims)-1]
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.dims...)
				scale, offset := gomlxtest.RandTensor(rng, dtypes.Float64, 1, c), gomlxtest.RandTensor(rng, dtypes.Float64, 1, c)
				run := func(useLayer bool) []*tensors.Tensor {
					ctx := context.New()
					vars := ctx.In("g").In(GroupNormScope)
					vs := vars.VariableWithValue("scale", scale)
					vo := vars.VariableWithValue("offset", offset)
					return context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, x *graph.Node) []*graph.Node {
						x = graph.AddScalar(x, 3)
						sn, on := vs.ValueGraph(x.Graph()), vo.ValueGraph(x.Graph())
						var y *graph.Node
						if useLayer {
							y = GroupNorm(ctx.In("g"), x, tc.groups)
						} else {
							y = textbookGroupNorm(x, sn, on, tc.groups)
						}
						r := graph.Sin(graph.IotaFull(x.Graph(), y.Shape()))
						loss := graph.ReduceAllSum(graph.Mul(graph.Square(y), r))
						return append([]*graph.Node{y}, graph.Gradient(loss, x, sn, on)...)
					}).MustExec(x)
				}
				got, want := run(true), run(false)
				for j, what := range []string{"value", "dx", "dscale", "doffset"} {
					gomlxtest.AssertClose(t, what, gomlxtest.Flat64(got[j]), gomlxtest.Flat64(want[j]), 1e-10, 1e-10)
				}
			})
		}
	})
}
