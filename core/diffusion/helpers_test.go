package diffusion

import (
	"cmp"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/nn"
)

// testGoConfig is the configuration of the pure-Go backend in tests and benchmarks:
// nn.PortableBackendConfig (sequential op scheduling: SimpleGo's parallel scheduler can
// deadlock on these graphs on 2 cores, see core/nn), or $DIFFUSION_GO_CONFIG when set.
var testGoConfig = cmp.Or(os.Getenv("DIFFUSION_GO_CONFIG"), nn.PortableBackendConfig)

var (
	goOnce    sync.Once
	goShared  backends.Backend
	goSharedE error
)

// goBackend returns the pure-Go backend, one instance shared by the package's tests (tensors
// of one backend instance cannot be used by another).
func goBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	goOnce.Do(func() { goShared, goSharedE = backends.NewWithConfig(testGoConfig) })
	if goSharedE != nil {
		tb.Fatalf("backend %q: %v", testGoConfig, goSharedE)
	}
	return goShared
}

// forEachBackend runs fn as a subtest on every backend registered in the test binary (this
// package's tests link only "go"; a build that links xla runs there too).
func forEachBackend(t *testing.T, fn func(t *testing.T, b backends.Backend)) {
	t.Helper()
	for _, name := range backends.List() {
		t.Run(name, func(t *testing.T) {
			config := name
			if name == nn.PortableBackend {
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

// flat64 copies a float32 or float64 tensor into []float64.
func flat64(t *tensors.Tensor) []float64 {
	if t.DType() == dtypes.Float64 {
		return tensors.MustCopyFlatData[float64](t)
	}
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
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
