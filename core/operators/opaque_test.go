package operators_test

import (
	"testing"

	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// TestOpaque checks that Opaque and OpaqueNoise hide the in-graph forms and keep everything
// else: linearity, moments, and the plain contract (the conformance suite passes through the
// wrappers, with its in-graph checks skipped for want of a form).
func TestOpaque(t *testing.T) {
	blur, _ := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 5, Sigma: 1})
	mask, _ := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.5})
	for _, op := range []part.Operator{blur, mask, operators.NewCompose(blur, mask)} {
		o := operators.Opaque(op)
		if _, ok := o.(operators.GraphOperator); ok || operators.HasGraph(o) {
			t.Errorf("Opaque(%T) still has an in-graph form", op)
		}
		if !part.IsLinear(o) {
			t.Errorf("Opaque(%T) lost its linearity", op)
		}
		r := conformance.CheckOperator(ctx, o, conformance.Options{})
		conformance.Require(t, r)
		if c, ok := r.Find("graph apply"); !ok || c.Skip == "" {
			t.Errorf("Opaque(%T): in-graph checks ran: %s", op, c)
		}
	}
	noise, _ := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	nm := operators.OpaqueNoise(noise)
	if _, ok := nm.(operators.GraphNoise); ok {
		t.Error("OpaqueNoise still has an in-graph NLL")
	}
	if _, ok := nm.(part.NoiseMoments); !ok {
		t.Error("OpaqueNoise lost the moments")
	}
	conformance.Require(t, conformance.CheckNoise(ctx, nm, conformance.Options{Samples: 4000}))
}
