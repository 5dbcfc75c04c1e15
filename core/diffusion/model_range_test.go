package diffusion

import (
	"context"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// TestModelRangeOp: the operator DPS guides with, B(x) = A((x+1)/2), passes the conformance
// suite (VJP against finite differences) both for an operator with an in-graph form and for one
// without (a plugin's, here blur.gaussian hidden by operators.Opaque), and keeps the in-graph
// form only when A has one.
func TestModelRangeOp(t *testing.T) {
	blur, err := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 5, Sigma: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		op    part.Operator
		graph bool
	}{{"in-graph", blur, true}, {"opaque", operators.Opaque(blur), false}} {
		b := InModelRange(c.op)
		if got := operators.HasGraph(b); got != c.graph {
			t.Errorf("%s: HasGraph = %v, want %v", c.name, got, c.graph)
		}
		conformance.Require(t, conformance.CheckOperator(context.Background(), b, conformance.Options{}))
	}
}

// TestToImage: model units -1, 0, 1 are intensities 0, 0.5, 1 (exact in float32); values
// beyond [-1, 1] are clipped to [0, 1]; the input is left as it was.
func TestToImage(t *testing.T) {
	u := batch.New(1, 1, 5, 1)
	copy(u.Data, []float32{-1, 0, 1, -3, 2})
	got := ToImage(u)
	for i, want := range []float32{0, 0.5, 1, 0, 1} {
		if got.Data[i] != want {
			t.Errorf("ToImage(%v) = %v, want %v", u.Data[i], got.Data[i], want)
		}
	}
	if u.Data[3] != -3 {
		t.Error("ToImage modified its input")
	}
}
