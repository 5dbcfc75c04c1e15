package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
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
	{2, 5, 4, 4, 3, 4, 1}, // equal widths: gradient by transposed convolution
	{1, 4, 5, 6, 3, 3, 1}, // wider to narrower
	{2, 5, 6, 9, 3, 2, 1}, // wide to narrow: shift-sum
	{1, 6, 5, 8, 5, 1, 1},
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
					"im2col": func(x, k *graph.Node, s int) *graph.Node { return convolveIm2Col(x, k, nil, s, false) },
					"shift-sum": func(x, k *graph.Node, s int) *graph.Node {
						if s != 1 {
							return Convolve2D(x, k, s)
						}
						return convolveShiftSum(x, k, nil)
					}, "native": convolveNative, "Convolve2D": Convolve2D,
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

// plainConv is the im2col convolution as this package built it before the transposed-
// convolution gradient: every window a Slice (including the centre), the bias added by
// broadcast, so the gradient of x is the scatter of every window's adjoint (GoMLX's
// Concatenate rule and this package's Slice rule). It is the reference of
// TestConvGradientMatchesScatter.
func plainConv(x, kernel, bias *graph.Node, stride int) *graph.Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	k, o := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[3]
	p := (k - 1) / 2
	ho, wo := (h-1)/stride+1, (w-1)/stride+1
	xp := PadAxis(PadAxis(x, 1, p, p), 2, p, p)
	var windows []*graph.Node
	for dy := range k {
		for dx := range k {
			windows = append(windows, Slice(xp, []int{0, dy, dx, 0},
				[]int{n, dy + (ho-1)*stride + 1, dx + (wo-1)*stride + 1, c}, []int{1, stride, stride, 1}))
		}
	}
	y := MatMul(graph.Concatenate(windows, 3), graph.Reshape(kernel, k*k*c, o))
	return graph.Add(y, graph.ExpandLeftToRank(bias, 4))
}

// TestConvGradientMatchesScatter compares the gradients of ConvolveBias2D (transposed
// convolution for x, bias folded into the product) with those of plainConv, in x, the kernel
// and the bias, for every case of convCases, in float64; tolerance 1e-12 absolute and relative
// (the same sums in another order). Finite differences check the layer in TestConv2DLayer.
func TestConvGradientMatchesScatter(t *testing.T) {
	plans := map[convPlan]int{}
	for _, tc := range convCases {
		plans[planConv(tc.k, tc.c, tc.o, tc.s)]++
	}
	if plans[im2colScatter] == 0 || plans[im2colTransposed] == 0 || plans[shiftSum] == 0 {
		t.Fatalf("convCases must exercise every formulation (im2col with scattered or transposed gradient, shift-sum), got %v", plans)
	}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range convCases {
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 14))
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.c)
				k := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.k, tc.k, tc.c, tc.o)
				bias := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.o)
				grads := func(conv func(x, k, b *graph.Node, s int) *graph.Node) []*tensors.Tensor {
					return graph.MustNewExec(b, func(x, k, bias *graph.Node) []*graph.Node {
						y := conv(x, k, bias, tc.s)
						r := graph.Sin(graph.IotaFull(x.Graph(), y.Shape()))
						return graph.Gradient(graph.ReduceAllSum(graph.Mul(graph.Square(y), r)), x, k, bias)
					}).MustExec(x, k, bias)
				}
				got, want := grads(ConvolveBias2D), grads(plainConv)
				for j, what := range []string{"x", "kernel", "bias"} {
					gomlxtest.AssertClose(t, "d"+what, gomlxtest.Flat64(got[j]), gomlxtest.Flat64(want[j]), 1e-12, 1e-12)
				}
			})
		}
	})
}
