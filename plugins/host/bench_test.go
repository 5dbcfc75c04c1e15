package host_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
)

// TestLargeBatch sends a 64 MiB batch (1024 images of 128x128) through a plugin and back:
// both sides must raise gRPC's 4 MiB message limit. faulty.op in mode ok answers y = 2x.
func TestLargeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 128 MiB through a plugin")
	}
	reg, _ := load(t, host.Options{CallTimeout: time.Minute}, plugintest.Folder(t, "faulty"))
	v, err := buildFrom(t, reg, "op: faulty.op\nmode: ok\n")
	if err != nil {
		t.Fatal(err)
	}
	x := batch.New(1024, 128, 128, 1)
	for i := range x.Data {
		x.Data[i] = float32(i%1000) / 1000
	}
	y, err := v.(part.Operator).Apply(ctx, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range y.Data {
		if got != 2*x.Data[i] {
			t.Fatalf("value %d: %g, want %g", i, got, 2*x.Data[i])
		}
	}
}

// BenchmarkApply measures one Apply round trip of a Gaussian blur (σ = 1.5 px, 33 taps per
// axis, separable) through the micro plugin against the built-in blur.gaussian, and of the
// transport alone (faulty.op: y = 2x) against the same scaling in-process. MB/s counts the
// bytes of x and y. The figures are in docs/plugins.md.
func BenchmarkApply(b *testing.B) {
	reg, _ := load(b, host.Options{CallTimeout: 10 * time.Minute}, plugintest.Folder(b, "micro"), plugintest.Folder(b, "faulty"))
	mk := func(y string) part.Operator {
		v, err := buildFrom(b, reg, y)
		if err != nil {
			b.Fatal(err)
		}
		return v.(part.Operator)
	}
	builtin, err := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 33, Sigma: 1.5})
	if err != nil {
		b.Fatal(err)
	}
	ops := []struct {
		name string
		op   part.Operator
	}{
		{"blur/builtin", builtin},
		{"blur/plugin", mk("op: micro.widefield\npsf: gaussian\nsigma_px: 1.5\nradius: 16\n")},
		{"echo/inprocess", scaleOp{}},
		{"echo/plugin", mk("op: faulty.op\nmode: ok\n")},
	}
	for _, size := range []int{28, 128} {
		for _, n := range []int{1, 64, 1024} {
			x := batch.New(n, size, size, 1)
			for i := range x.Data {
				x.Data[i] = float32(i%97) / 97
			}
			for _, o := range ops {
				b.Run(fmt.Sprintf("%s/%dx%dx%d", o.name, n, size, size), func(b *testing.B) {
					b.SetBytes(int64(2 * 4 * x.Size()))
					for b.Loop() {
						if _, err := o.op.Apply(ctx, x, nil); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// scaleOp is y = 2x in-process, the reference for the transport benchmark.
type scaleOp struct{}

func (scaleOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) { return in, nil }
func (scaleOp) SampleParams(ctx context.Context, _ *rand.Rand, _ batch.Shape) (part.Params, error) {
	return nil, nil
}
func (scaleOp) Apply(_ context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	y := x.Clone()
	for i := range y.Data {
		y.Data[i] *= 2
	}
	return y, nil
}
func (s scaleOp) VJP(ctx context.Context, _, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	return s.Apply(ctx, v, p)
}
