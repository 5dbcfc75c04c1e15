package operators_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

var ctx = context.Background()

// TestConformanceDefaults runs the conformance suite (registry/conformance) on every built-in
// with its default configuration, in-graph checks on the go backend included. Built-ins whose
// defaults are incomplete report a skipped build and are covered by TestConformanceConfigs.
func TestConformanceDefaults(t *testing.T) {
	for _, id := range registry.Default.IDs("") {
		t.Run(id, func(t *testing.T) {
			r, err := conformance.CheckID(ctx, id, registry.Default)
			if err != nil {
				t.Fatal(err)
			}
			conformance.Require(t, r)
		})
	}
}

// TestConformanceConfigs runs the suite on configurations a pipeline would write: the built-ins
// that need parameters, the paper's blur on MNIST-sized images, and a blur.kernel large enough
// for the shifted-windows in-graph form.
func TestConformanceConfigs(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "psf.npy")
	taps := []float32{0, 1, 2, 1, 0, 1, 3, 5, 3, 1, 0, 2, 4, 2, 0} // 3x5, asymmetric rows
	if err := npy.WriteFile(k, []int{3, 5}, taps); err != nil {
		t.Fatal(err)
	}
	// A wide general kernel (33x33, 1089 taps): on 72x64 images its in-graph form is the sum of
	// shifted windows.
	wide := filepath.Join(dir, "wide.npy")
	g, _ := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 33, Sigma: 4})
	w := make([]float32, 33*33)
	for i, v := range g.Kernel().K {
		w[i] = float32(v) * float32(1+i%3) // break the separability
	}
	if err := npy.WriteFile(wide, []int{33, 33}, w); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		yaml  string
		shape batch.Shape
		slow  bool
	}{
		{"blur.kernel", "- op: blur.kernel\n  path: " + k, batch.Shape{}, false},
		{"blur.kernel 33x33 windows", "- op: blur.kernel\n  path: " + wide, batch.Shape{N: 2, H: 72, W: 64, C: 1}, true},
		{"paper blur on 28x28", "- op: blur.gaussian\n  size: 33\n  sigma: 1.5", batch.Shape{N: 4, H: 28, W: 28, C: 1}, false},
		{"op.compose", "- op: op.compose\n  ops:\n    - op: blur.gaussian\n      size: 5\n      sigma: 1\n    - mask.random\n    - op.downsample", batch.Shape{}, false},
		{"mixture", `- op: op.mixture
  components:
    - weight: 1
      ops: [blur.motion]
    - weight: 2
      ops:
        - op: mask.box
          size: 6
        - op: blur.gaussian
          size: 7
          sigma: 1
    - ops: []`, batch.Shape{N: 8, H: 16, W: 20, C: 2}, false},
		{"poisson_gaussian", "- op: noise.poisson_gaussian\n  gain: 0.05\n  sigma: 0.02\n  offset: 0.1", batch.Shape{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("slow in-graph windows form; skipped under -short")
			}
			var p struct {
				Corruption []registry.Spec `yaml:"corruption"`
			}
			if errs := schema.Unmarshal([]byte("corruption:\n"+indent(c.yaml)), &p); len(errs) > 0 {
				t.Fatal(errs)
			}
			conformance.Require(t, conformance.CheckSpec(ctx, &p.Corruption[0], conformance.Options{Shape: c.shape}))
		})
	}
}

// TestConformanceInGraph runs the suite on the in-graph forms themselves (GraphRunner): their
// Apply and gradient must be exact adjoints and deterministic too.
func TestConformanceInGraph(t *testing.T) {
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"blur.gaussian", "blur.motion", "mask.random", "op.downsample"} {
		e, _ := registry.Lookup(id)
		cfg, err := e.DefaultConfig()
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		run, err := operators.NewGraphRunner(b, v.(part.Operator))
		if err != nil {
			t.Fatal(err)
		}
		r := conformance.CheckOperator(ctx, run, conformance.Options{Backend: b})
		r.Subject = id + " in-graph"
		conformance.Require(t, r)
	}
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out + "\n"
}
