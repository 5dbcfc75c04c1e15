package nn

import (
	"cmp"
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// The shared GoMLX test helpers (backends, tensors, tolerances, gradient checks) are in
// internal/gomlxtest; these are this package's own.

// testGoConfig is the backend configuration tests and benchmarks use for the pure-Go backend:
// PortableBackendConfig (see there how ops are scheduled), or $NN_GO_CONFIG when set (for
// example "go:ops_sequential" to compare with ops run one after the other).
var testGoConfig = cmp.Or(os.Getenv("NN_GO_CONFIG"), PortableBackendConfig)

// runCtx builds fn in a fresh seeded context, runs it on inputs, and returns the output and the
// context (whose variables the caller may read to compute a reference).
func runCtx(t testing.TB, b backends.Backend, seed int64, fn gomlxtest.LayerFn, inputs ...*tensors.Tensor) (*tensors.Tensor, *context.Context) {
	t.Helper()
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	e := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node { return fn(ctx, in) })
	e.MustExec(gomlxtest.AnySlice(inputs)...) // creates and initializes the variables
	gomlxtest.RandomizeVars(ctx, uint64(seed))
	return e.MustExec(gomlxtest.AnySlice(inputs)...)[0], ctx
}

// varValue returns the float64 values of the variable scope/name, failing if absent.
func varValue(t *testing.T, ctx *context.Context, scope, name string) []float64 {
	t.Helper()
	v := ctx.GetVariableByScopeAndName(scope, name)
	if v == nil {
		var names []string
		for v := range ctx.IterVariables() {
			names = append(names, v.ScopeAndName())
		}
		t.Fatalf("variable %s/%s not found; have %v", scope, name, names)
	}
	return gomlxtest.Flat64(v.MustValue())
}
