package host_test

import (
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

var ctx = context.Background()

// load returns a fresh registry and host with the plugin folders loaded.
func load(t testing.TB, opts host.Options, dirs ...string) (*registry.Registry, *host.Host) {
	t.Helper()
	reg := registry.New()
	h := host.New(reg, opts)
	t.Cleanup(h.Close)
	for _, d := range dirs {
		if err := h.LoadDir(d); err != nil {
			t.Fatal(err)
		}
	}
	return reg, h
}

// TestExamplesConform runs the conformance suite on every part of the three examples through
// their processes, as `flowdiff plugins check` does.
func TestExamplesConform(t *testing.T) {
	dirs := []string{plugintest.Folder(t, "micro"), plugintest.Folder(t, "cryoem"), plugintest.PythonFolder(t)}
	_, h := load(t, host.Options{}, dirs...)
	want := []string{"cryoem.ctf", "micro.poisson_gaussian", "micro.widefield", "pyexample.border", "pyexample.mae", "pyexample.tv"}
	var got []string
	for _, p := range h.Plugins() {
		for _, r := range h.Check(ctx, p) {
			got = append(got, r.Subject)
			conformance.Require(t, r)
		}
	}
	slices.Sort(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("checked %v, want %v", got, want)
	}
}

func TestRegistryEntries(t *testing.T) {
	dir := plugintest.Folder(t, "micro")
	reg, _ := load(t, host.Options{}, dir)
	e, err := reg.Lookup("micro.widefield")
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != registry.KindOperator || !e.Linear || !strings.Contains(e.Origin, "plugin micro") || !strings.Contains(e.Origin, dir) {
		t.Errorf("entry %+v", e)
	}
	v, err := buildFrom(t, reg, "op: micro.widefield\npsf: gaussian\nsigma_px: 1.5\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*host.Operator); !ok || !part.IsLinear(v.(part.Operator)) {
		t.Errorf("built %T, want a linear *host.Operator", v)
	}
	// A cross-field rule only the plugin knows (its schema.Checker) comes back as a clear error.
	_, err = buildFrom(t, reg, "op: micro.widefield\nsigma_px: 2\n")
	if err == nil || !strings.Contains(err.Error(), "plugin micro") || !strings.Contains(err.Error(), "sigma_px") ||
		!strings.Contains(err.Error(), "applies to psf: gaussian only") {
		t.Errorf("plugin-side validation: %v", err)
	}
}

// buildFrom decodes "op: ID\nkey: value" against a registry's entry like a pipeline does.
func buildFrom(t testing.TB, reg *registry.Registry, y string) (any, error) {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(y), &node); err != nil {
		t.Fatal(err)
	}
	m := node.Content[0]
	rest := &yaml.Node{Kind: yaml.MappingNode}
	var id string
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == "op" {
			id = m.Content[i+1].Value
			continue
		}
		rest.Content = append(rest.Content, m.Content[i], m.Content[i+1])
	}
	e, err := reg.Lookup(id)
	if err != nil {
		return nil, err
	}
	var cfg any
	if e.Config != nil {
		cfg = e.Config()
		if errs := schema.Decode(rest, cfg, id); len(errs) > 0 {
			return nil, errs
		}
	}
	return e.New(ctx, cfg)
}

// TestPluginMatchesBuiltin compares micro.widefield (Gaussian, σ = 1.5 px, radius 16),
// through its process, with the built-in blur.gaussian (size 33, σ = 1.5): both sample the
// Gaussian at the pixel centers, normalize, and convolve with zero padding, so Apply and VJP
// agree to float32 rounding (tolerance 1e-6 of the largest value).
func TestPluginMatchesBuiltin(t *testing.T) {
	reg, _ := load(t, host.Options{}, plugintest.Folder(t, "micro"))
	v, err := buildFrom(t, reg, "op: micro.widefield\npsf: gaussian\nsigma_px: 1.5\nradius: 16\n")
	if err != nil {
		t.Fatal(err)
	}
	plug := v.(part.Operator)
	builtin, err := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 33, Sigma: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	x := batch.New(3, 28, 24, 2)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(0.37*float64(i)) + 0.5)
	}
	for _, name := range []string{"Apply", "VJP"} {
		call := func(op part.Operator) *batch.Batch {
			var y *batch.Batch
			var err error
			if name == "Apply" {
				y, err = op.Apply(ctx, x, nil)
			} else {
				y, err = op.VJP(ctx, x, x, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			return y
		}
		a, b := call(plug), call(builtin)
		worst, scale := 0.0, 0.0
		for i := range a.Data {
			worst = math.Max(worst, math.Abs(float64(a.Data[i]-b.Data[i])))
			scale = math.Max(scale, math.Abs(float64(b.Data[i])))
		}
		if worst > 1e-6*scale {
			t.Errorf("%s: plugin and built-in differ by %g (scale %g)", name, worst, scale)
		}
	}
}
