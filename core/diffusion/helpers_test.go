package diffusion

import (
	"cmp"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/nn"
)

// testGoConfig is the configuration of the pure-Go backend in tests and benchmarks:
// nn.PortableBackendConfig (an unbounded pool: SimpleGo's default one can deadlock on these
// graphs on 2 cores, see core/nn), or $DIFFUSION_GO_CONFIG when set; tests
// get the backend from gomlxtest.Backend and gomlxtest.ForEachBackend.
var testGoConfig = cmp.Or(os.Getenv("DIFFUSION_GO_CONFIG"), nn.PortableBackendConfig)

// seededContext returns a new unchecked context whose random initializers are seeded.
func seededContext(t testing.TB, seed int64) *context.Context {
	t.Helper()
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// randomBatch returns a batch of standard normal values, seeded.
func randomBatch(rng *rand.Rand, s batch.Shape) *batch.Batch {
	b := batch.New(s.N, s.H, s.W, s.C)
	for i := range b.Data {
		b.Data[i] = float32(rng.NormFloat64())
	}
	return b
}

// f64Tensor builds a float64 tensor from float32 or float64 data.
func f64Tensor[T float32 | float64](data []T, dims ...int) *tensors.Tensor {
	out := make([]float64, len(data))
	for i, v := range data {
		out[i] = float64(v)
	}
	return tensors.FromFlatDataAndDimensions(out, dims...)
}

// rms is the root mean square of a - b.
func rms(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(a)))
}

// maxAbsDiff is max |a - b|.
func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// trainableVars lists ctx's trainable variables under scope (absolute, e.g. "/unet").
func trainableVars(ctx *context.Context, scope string) []*context.Variable {
	return trackedVariables(ctx.InAbsPath(scope))
}

// graphShape is a float32 shape.
func graphShape(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
