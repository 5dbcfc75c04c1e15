package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// refConv2D is the direct-loop reference of Conv2D (cross-correlation, zero padding (k-1)/2,
// stride s) on flat NHWC data with kernel [k,k,C,O] and optional bias.
func refConv2D(x []float64, n, h, w, c int, k []float64, ks, o, s int, bias []float64) (y []float64, ho, wo int) {
	p := (ks - 1) / 2
	ho, wo = (h-1)/s+1, (w-1)/s+1
	y = make([]float64, n*ho*wo*o)
	for b := range n {
		for i := range ho {
			for j := range wo {
				for oc := range o {
					sum := 0.0
					if bias != nil {
						sum = bias[oc]
					}
					for dy := range ks {
						for dx := range ks {
							yy, xx := s*i+dy-p, s*j+dx-p
							if yy < 0 || yy >= h || xx < 0 || xx >= w {
								continue
							}
							for ic := range c {
								sum += x[((b*h+yy)*w+xx)*c+ic] * k[((dy*ks+dx)*c+ic)*o+oc]
							}
						}
					}
					y[((b*ho+i)*wo+j)*o+oc] = sum
				}
			}
		}
	}
	return y, ho, wo
}

var convCases = []struct {
	n, h, w, c, k, o, s int
}{
	{2, 5, 6, 3, 3, 4, 1},
	{1, 4, 4, 2, 1, 3, 1},
	{1, 6, 5, 2, 5, 2, 1},
	{2, 7, 6, 3, 3, 2, 2}, // odd height: last row of windows reads the padding
	{1, 6, 6, 2, 1, 3, 2},
}

// TestConvolve2DValues checks the im2col path and the native graph.Convolve path (run here in
// forward only: its gradient fails on SimpleGo) against the direct loops, in float64.
// Tolerance 1e-12: the same sums in different orders.
func TestConvolve2DValues(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range convCases {
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 10))
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.c)
				k := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.k, tc.k, tc.c, tc.o)
				want, ho, wo := refConv2D(gomlxtest.Flat64(x), tc.n, tc.h, tc.w, tc.c, gomlxtest.Flat64(k), tc.k, tc.o, tc.s, nil)
				for name, conv := range map[string]func(x, k *graph.Node, s int) *graph.Node{
					"im2col": convolveIm2Col, "native": convolveNative, "Convolve2D": Convolve2D,
				} {
					got := graph.MustExecOnce(b, func(x, k *graph.Node) *graph.Node { return conv(x, k, tc.s) }, x, k)
					if d := got.Shape().Dimensions; d[1] != ho || d[2] != wo || d[3] != tc.o {
						t.Fatalf("%s: shape %s, want [%d %d %d %d]", name, got.Shape(), tc.n, ho, wo, tc.o)
					}
					gomlxtest.AssertClose(t, name, gomlxtest.Flat64(got), want, 1e-12, 1e-12)
				}
			})
		}
	})
}

// TestConv2DLayer checks the layer (kernel and bias variables, scope) against the reference
// using the variables' values, then its gradients by finite differences.
func TestConv2DLayer(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range convCases {
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 11))
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.c)
				fn := func(ctx *context.Context, in []*graph.Node) *graph.Node {
					return Conv2D(ctx.In("layer"), in[0], tc.o, tc.k, tc.s, true)
				}
				got, ctx := runCtx(t, b, int64(i), fn, x)
				kernel := varValue(t, ctx, "/layer/conv", "weights")
				bias := varValue(t, ctx, "/layer/conv", "biases")
				want, _, _ := refConv2D(gomlxtest.Flat64(x), tc.n, tc.h, tc.w, tc.c, kernel, tc.k, tc.o, tc.s, bias)
				gomlxtest.AssertClose(t, "Conv2D", gomlxtest.Flat64(got), want, 1e-12, 1e-12)
				if testing.Short() && i > 1 {
					return
				}
				gomlxtest.GradCheck(t, b, uint64(i), fn, x)
			})
		}
	})
}

// TestResampling checks AvgPool2, Upsample2, SpaceToDepth and DepthToSpace against index
// arithmetic (exact), their round trip, and their gradients by finite differences.
func TestResampling(t *testing.T) {
	const n, h, w, c = 2, 4, 6, 3
	at := func(d []float64, hh, ww, cc, b, y, x, ch int) float64 { return d[((b*hh+y)*ww+x)*cc+ch] }
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		rng := rand.New(rand.NewPCG(1, 12))
		x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, n, h, w, c)
		xs := gomlxtest.Flat64(x)
		var pool, up, s2d []float64
		for bb := range n {
			for y := range h / 2 {
				for xx := range w / 2 {
					for ch := range c {
						pool = append(pool, (at(xs, h, w, c, bb, 2*y, 2*xx, ch)+at(xs, h, w, c, bb, 2*y+1, 2*xx, ch)+
							at(xs, h, w, c, bb, 2*y, 2*xx+1, ch)+at(xs, h, w, c, bb, 2*y+1, 2*xx+1, ch))/4)
					}
				}
			}
			for y := range 2 * h {
				for xx := range 2 * w {
					for ch := range c {
						up = append(up, at(xs, h, w, c, bb, y/2, xx/2, ch))
					}
				}
			}
			for y := range h / 2 {
				for xx := range w / 2 {
					for dy := range 2 {
						for dx := range 2 {
							for ch := range c {
								s2d = append(s2d, at(xs, h, w, c, bb, 2*y+dy, 2*xx+dx, ch))
							}
						}
					}
				}
			}
		}
		ops := []struct {
			name string
			fn   func(x *graph.Node) *graph.Node
			want []float64
		}{
			{"AvgPool2", AvgPool2, pool},
			{"Upsample2", Upsample2, up},
			{"SpaceToDepth", func(x *graph.Node) *graph.Node { return SpaceToDepth(x, 2) }, s2d},
			{"DepthToSpace∘SpaceToDepth", func(x *graph.Node) *graph.Node { return DepthToSpace(SpaceToDepth(x, 2), 2) }, xs},
		}
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				got := graph.MustExecOnce(b, op.fn, x)
				gomlxtest.AssertClose(t, op.name, gomlxtest.Flat64(got), op.want, 1e-15, 0)
				gomlxtest.GradCheck(t, b, 5, func(_ *context.Context, in []*graph.Node) *graph.Node { return op.fn(in[0]) }, x)
			})
		}
	})
}

// TestDownUpsampleShapes checks the DDPM resampling layers' output shapes and scopes.
func TestDownUpsampleShapes(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		rng := rand.New(rand.NewPCG(1, 13))
		x := gomlxtest.RandTensor(rng, dtypes.Float32, 1, 2, 8, 8, 3)
		down, ctx := runCtx(t, b, 1, func(ctx *context.Context, in []*graph.Node) *graph.Node {
			return Downsample(ctx, in[0], 5)
		}, x)
		if got := down.Shape().Dimensions; fmt.Sprint(got) != "[2 4 4 5]" {
			t.Errorf("Downsample shape %v, want [2 4 4 5]", got)
		}
		_ = varValue(t, ctx, "/downsample/conv", "weights")
		upT, _ := runCtx(t, b, 1, func(ctx *context.Context, in []*graph.Node) *graph.Node {
			return Upsample(ctx, in[0], 4)
		}, x)
		if got := upT.Shape().Dimensions; fmt.Sprint(got) != "[2 16 16 4]" {
			t.Errorf("Upsample shape %v, want [2 16 16 4]", got)
		}
	})
}

// TestConvNarrow checks ConvNarrow against Conv2D(ctx, x, out, 3, 1, true) with the same
// variables (float64, weights and bias set to seeded uniform values), values within 1e-12, and
// the gradients of Σ y⊙R with respect to x and the variables within 1e-12 too (the same sums in
// other orders), for out < in (the shifted-matmul path on the portable backend) and out >= in
// (Convolve2D).
func TestConvNarrow(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range []struct{ n, h, w, in, out int }{{2, 5, 6, 8, 3}, {1, 4, 4, 3, 5}, {2, 1, 1, 6, 2}} {
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(tc.in), uint64(tc.out)))
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.in)
				r := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.out)
				ctx := context.New()
				build := func(conv func(*context.Context, *graph.Node) *graph.Node) *context.Exec {
					return context.MustNewExec(b, ctx, func(ctx *context.Context, x, r *graph.Node) []*graph.Node {
						ctx = ctx.In("layer").Checked(false)
						y := conv(ctx, x)
						loss := graph.ReduceAllSum(graph.Mul(y, r))
						wv := ctx.In(ConvScope).GetVariable("weights").ValueGraph(x.Graph())
						bv := ctx.In(ConvScope).GetVariable("biases").ValueGraph(x.Graph())
						return append([]*graph.Node{y}, graph.Gradient(loss, x, wv, bv)...)
					})
				}
				ours := build(func(ctx *context.Context, x *graph.Node) *graph.Node { return ConvNarrow(ctx, x, tc.out) })
				ref := build(func(ctx *context.Context, x *graph.Node) *graph.Node { return Conv2D(ctx, x, tc.out, 3, 1, true) })
				ours.MustExec(x, r) // creates the variables
				if vs := gomlxtest.TrainableVars(ctx); len(vs) != 2 {
					t.Fatalf("want 2 variables (weights, biases), got %d", len(vs))
				}
				gomlxtest.RandomizeVars(ctx, uint64(i)) // moves the zero bias too
				got, want := ours.MustExec(x, r), ref.MustExec(x, r)
				for k, what := range []string{"y", "dx", "dweights", "dbiases"} {
					gomlxtest.AssertClose(t, what+" against Conv2D", gomlxtest.Flat64(got[k]), gomlxtest.Flat64(want[k]), 1e-12, 0)
				}
			})
		}
	})
}
