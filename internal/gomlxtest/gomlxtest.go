// Package gomlxtest holds the helpers that the GoMLX tests of core/nn, core/flow and
// core/diffusion share: backends for tests, float64 views of tensors, seeded random tensors,
// comparison with stated tolerances, and a finite-difference gradient check of a layer. It is
// imported by tests only; importing it registers GoMLX's pure-Go backend ("go", SimpleGo).
//
// It does not import core/nn (core/nn's own tests use it), so callers pass the pure-Go
// backend's configuration (nn.PortableBackendConfig, "go:ops_sequential", or an override from
// the environment) where a backend is made.
package gomlxtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var (
	mu     sync.Mutex
	shared = map[string]backends.Backend{}
)

// Backend returns the backend made with config (for example "go:ops_sequential"), one instance
// per config for the whole test binary: tensors of one backend instance cannot be used by
// another, and a test binary need not start a backend per test.
func Backend(tb testing.TB, config string) backends.Backend {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := shared[config]; ok {
		return b
	}
	b, err := backends.NewWithConfig(config)
	if err != nil {
		tb.Fatalf("backend %q: %v", config, err)
	}
	shared[config] = b
	return b
}

// ForEachBackend runs fn as a subtest on every GoMLX backend registered in the test binary
// ("go" always, through this package; xla too in a build that links it). The backend that
// goConfig names ("go" for "go:ops_sequential") is made with goConfig, the others with their
// defaults; one that cannot start here skips its subtest.
func ForEachBackend(t *testing.T, goConfig string, fn func(t *testing.T, b backends.Backend)) {
	t.Helper()
	goName, _, _ := strings.Cut(goConfig, ":")
	for _, name := range backends.List() {
		t.Run(name, func(t *testing.T) {
			config := name
			if name == goName {
				config = goConfig
			}
			b, err := backends.NewWithConfig(config)
			if err != nil {
				t.Skipf("backend %q not usable here: %v", name, err)
			}
			fn(t, b)
		})
	}
}

// RandTensor returns a tensor of the dtype (float32 or float64) with entries scale·U[-1, 1),
// drawn from rng in row-major order.
func RandTensor(rng *rand.Rand, dtype dtypes.DType, scale float64, dims ...int) *tensors.Tensor {
	data := make([]float64, shapes.Make(dtype, dims...).Size())
	for i := range data {
		data[i] = scale * (2*rng.Float64() - 1)
	}
	return FromFlat64(dtype, data, dims...)
}

// Flat64 copies a float32 or float64 tensor into a []float64, row-major.
func Flat64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	panic(fmt.Sprintf("gomlxtest.Flat64: unsupported dtype %s", t.DType()))
}

// FromFlat64 builds a tensor of the dtype (float32: rounded; else float64) and dimensions from
// row-major float64 data (copied).
func FromFlat64(dtype dtypes.DType, data []float64, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return tensors.FromFlatDataAndDimensions(slices.Clone(data), dims...)
}

// AssertClose reports an error when |got_i - want_i| > atol + rtol·|want_i| anywhere (a NaN
// on either side always does), naming the index of the worst excess; what says which values.
func AssertClose(t testing.TB, what string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	worst, worstIdx := 0.0, -1
	for i := range got {
		err := math.Abs(got[i] - want[i])
		if math.IsNaN(got[i]) || math.IsNaN(want[i]) {
			err = math.Inf(1)
		}
		if excess := err - (atol + rtol*math.Abs(want[i])); excess > worst {
			worst, worstIdx = excess, i
		}
	}
	if worstIdx >= 0 {
		t.Errorf("%s: index %d: got %.10g, want %.10g (atol %g, rtol %g)",
			what, worstIdx, got[worstIdx], want[worstIdx], atol, rtol)
	}
}

// AnySlice converts tensors to the []any that an Exec call takes.
func AnySlice(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
