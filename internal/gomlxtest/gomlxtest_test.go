package gomlxtest

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

const goConfig = "go:ops_sequential"

// TestTensors: RandTensor draws scale·U[-1, 1) deterministically from its seed; FromFlat64 and
// Flat64 round-trip float64 exactly and float32 to float32 rounding (relative 2^-24).
func TestTensors(t *testing.T) {
	for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		a := Flat64(RandTensor(rand.New(rand.NewPCG(1, 2)), dtype, 3, 4, 5))
		b := Flat64(RandTensor(rand.New(rand.NewPCG(1, 2)), dtype, 3, 4, 5))
		if len(a) != 20 {
			t.Fatalf("%s: %d values, want 20", dtype, len(a))
		}
		for i := range a {
			if a[i] != b[i] || a[i] < -3 || a[i] >= 3 {
				t.Fatalf("%s: value %d: %v and %v, want equal and in [-3, 3)", dtype, i, a[i], b[i])
			}
		}
		data := []float64{0, 1, -2.5, 1.0 / 3}
		rtol := 0.0
		if dtype == dtypes.Float32 {
			rtol = 1.0 / (1 << 24)
		}
		AssertClose(t, dtype.String()+" round trip", Flat64(FromFlat64(dtype, data, 2, 2)), data, 0, rtol)
	}
}

// TestGradCheck runs the check on a layer with a variable and a known, correct gradient,
// y = w ⊙ x² (w [2,3] trainable, like x), on every backend; a wrong gradient rule would fail it.
func TestGradCheck(t *testing.T) {
	ForEachBackend(t, goConfig, func(t *testing.T, b backends.Backend) {
		x := RandTensor(rand.New(rand.NewPCG(3, 4)), dtypes.Float64, 1, 2, 3)
		GradCheck(t, b, 5, func(ctx *context.Context, in []*graph.Node) *graph.Node {
			w := ctx.VariableWithShape("w", in[0].Shape())
			return graph.Mul(graph.Square(in[0]), w.ValueGraph(in[0].Graph()))
		}, x)
	})
}

// TestBackendShared: Backend returns one instance per configuration.
func TestBackendShared(t *testing.T) {
	if Backend(t, goConfig) != Backend(t, goConfig) {
		t.Error("two calls made two backends")
	}
}
