package operators

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// BenchmarkBlur measures blur.gaussian (size 33, sigma 1.5) Apply and VJP on batches of 64,
// plain Go against the in-graph form executed on the go backend (SimpleGo; compile time
// excluded, tensor copies in and out included). Figures: docs/benchmarks-operators.md.
//
//	go test -bench Blur -run XXX ./core/operators/
func BenchmarkBlur(b *testing.B) {
	op, err := NewGaussianBlur(GaussianBlurConfig{Size: 33, Sigma: 1.5})
	if err != nil {
		b.Fatal(err)
	}
	gr, err := NewGraphRunner(testBackend(b), op)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []batch.Shape{{N: 64, H: 28, W: 28, C: 1}, {N: 64, H: 32, W: 32, C: 3}} {
		x, v := randBatch(1, s), randBatch(2, s)
		for _, impl := range []struct {
			name string
			op   part.Operator
		}{{"plain", op}, {"graph", gr}} {
			for _, call := range []string{"apply", "vjp"} {
				b.Run(fmt.Sprintf("%dx%dx%d/%s/%s", s.H, s.W, s.C, impl.name, call), func(b *testing.B) {
					run := func() error {
						if call == "apply" {
							_, err := impl.op.Apply(ctx, x, nil)
							return err
						}
						_, err := impl.op.VJP(ctx, x, v, nil)
						return err
					}
					if err := run(); err != nil { // compiles the graph once
						b.Fatal(err)
					}
					b.ResetTimer()
					for range b.N {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*s.N)/b.Elapsed().Seconds(), "images/s")
				})
			}
		}
	}
}

// BenchmarkKernelForms compares the in-graph forms of general (non-separable) kernels, one
// dense [HW,HW] product against a sum of shifted windows, forward and forward+gradient, on
// batches of 64 at two image sizes, with a wide kernel (the 33x33 Gaussian taps, 1089 non-zero)
// and a sparse one (motion blur of length 9: 11x11 with 11 non-zero taps), to place useDense;
// also plain-Go Apply.
func BenchmarkKernelForms(b *testing.B) {
	g, _ := NewGaussianBlur(GaussianBlurConfig{Size: 33, Sigma: 1.5})
	wide, _ := NewKernelBlurFrom(g.kernel) // same taps, treated as a general kernel
	motion, _ := NewMotionBlur(MotionBlurConfig{Length: 9, Angle: 0})
	for _, kc := range []struct {
		name string
		op   *convOp
	}{{"gauss33", &wide.convOp}, {"motion9", &motion.convOp}} {
		op := kc.op
		for _, s := range []batch.Shape{{N: 64, H: 28, W: 28, C: 1}, {N: 64, H: 64, W: 64, C: 1}} {
			x := randBatch(1, s)
			b.Run(fmt.Sprintf("%s/%dx%d/plain/apply", kc.name, s.H, s.W), func(b *testing.B) {
				for range b.N {
					op.Apply(ctx, x, nil)
				}
				b.ReportMetric(float64(b.N*s.N)/b.Elapsed().Seconds(), "images/s")
			})
			forms := map[string]func(x *graph.Node) *graph.Node{
				"dense": func(x *graph.Node) *graph.Node {
					m := constMatrix(x, op.matrix(2, s.H, s.W), s.H*s.W, s.H*s.W)
					return withAdjoint(x, func(x *graph.Node) *graph.Node { return denseGraph(x, m, false) },
						func(v *graph.Node) *graph.Node { return denseGraph(v, m, true) })
				},
				"windows": func(x *graph.Node) *graph.Node {
					return withAdjoint(x, func(x *graph.Node) *graph.Node { return windowsGraph(x, convPlan(op.kernel, false)) },
						func(v *graph.Node) *graph.Node { return windowsGraph(v, convPlan(op.kernel, true)) })
				},
			}
			for _, name := range []string{"dense", "windows"} {
				form := forms[name]
				for _, grad := range []bool{false, true} {
					call := "apply"
					if grad {
						call = "apply+vjp"
					}
					b.Run(fmt.Sprintf("%s/%dx%d/%s/%s", kc.name, s.H, s.W, name, call), func(b *testing.B) {
						e := graph.MustNewExec(testBackend(b), func(x *graph.Node) []*graph.Node {
							y := form(x)
							if !grad {
								return []*graph.Node{y}
							}
							return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x)[0]}
						})
						t := ToTensor(x)
						e.MustExec(t)
						b.ResetTimer()
						for range b.N {
							for _, r := range e.MustExec(t) {
								r.FinalizeAll()
							}
						}
						b.ReportMetric(float64(b.N*s.N)/b.Elapsed().Seconds(), "images/s")
					})
				}
			}
		}
	}
}
