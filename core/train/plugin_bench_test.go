package train

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry"
)

// TestMain stops the plugin processes BenchmarkJointStepPlugin starts and removes the
// plugins internal/plugintest builds.
func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

// BenchmarkJointStepPlugin times one joint training step (flow step + diffusion step, batch 16,
// 28x28, BenchmarkJointStep's models) with the same Gaussian blur (sigma 1.5 px, 9 taps per
// axis) three ways, noise.gaussian (sigma 0.1) in each:
//
//   - builtin-graph: blur.gaussian inside the step graph (the fast path);
//   - builtin-injected: blur.gaussian hidden by operators.Opaque, so the step runs gradient
//     injection with the host's Apply and VJP in-process;
//   - plugin: micro.widefield (psf: gaussian, sigma_px: 1.5, radius: 4) from
//     plugins/examples/micro, out of process: gradient injection plus two round trips (Apply,
//     VJP) of 16 images each way per step.
//
// "plugin-host-terms" and "builtin-host-terms" time the injected work alone (the flow's
// forward pass, Apply, NLL, NLLGrad, VJP). The plugin example's blur is the same arithmetic as
// the built-in's (plugins/host TestPluginMatchesBuiltin), so the difference is the transport.
// Figures in docs/plugins.md.
func BenchmarkJointStepPlugin(b *testing.B) {
	be := goBackend(b)
	cfg, clean, blur, noise, obs, params := jointStepSetup(b)
	ctx := context.Background()
	plug := pluginOperator(ctx, b, "micro", "op: micro.widefield\npsf: gaussian\nsigma_px: 1.5\nradius: 4\n")
	newTrainer := func(b *testing.B, op part.Operator) *Trainer {
		prob := Problem{Obs: obs, Params: params, Op: op, Noise: noise, Clean: clean.Shape}
		tr, err := New(ctx, be, cfg, prob, 1, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.compile(); err != nil {
			b.Fatal(err)
		}
		return tr
	}
	for _, c := range []struct {
		name string
		op   part.Operator
	}{
		{"builtin-graph", operators.NewCompose(blur)},
		{"builtin-injected", operators.Opaque(operators.NewCompose(blur))},
		{"plugin", operators.NewCompose(plug)},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr := newTrainer(b, c.op)
			st := &State{LRScale: 1}
			if _, err := tr.step(ctx, st); err != nil { // compiles the executables
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.Step = i + 1
				if _, err := tr.step(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
	for _, c := range []struct {
		name string
		op   part.Operator
	}{
		{"builtin-host-terms", operators.Opaque(operators.NewCompose(blur))},
		{"plugin-host-terms", operators.NewCompose(plug)},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr := newTrainer(b, c.op)
			in := tr.draw(PhaseJoint, 0)
			if _, err := tr.hostTerms(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.hostTerms(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pluginOperator builds a part of the example plugin name through its process, from YAML
// "op: ID\nkey: value...", like a pipeline does.
func pluginOperator(ctx context.Context, b testing.TB, name, spec string) part.Operator {
	b.Helper()
	reg := registry.New()
	h := host.New(reg, host.Options{})
	b.Cleanup(h.Close)
	if err := h.LoadDir(plugintest.Folder(b, name)); err != nil {
		b.Fatal(err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(spec), &node); err != nil {
		b.Fatal(err)
	}
	var id string
	rest := &yaml.Node{Kind: yaml.MappingNode}
	m := node.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "op" {
			id = m.Content[i+1].Value
			continue
		}
		rest.Content = append(rest.Content, m.Content[i], m.Content[i+1])
	}
	e, err := reg.Lookup(id)
	if err != nil {
		b.Fatal(err)
	}
	cfg := e.Config()
	if errs := schema.Decode(rest, cfg, id); len(errs) > 0 {
		b.Fatal(errs)
	}
	v, err := e.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return v.(part.Operator)
}
