package train

import (
	"context"
	"log/slog"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// TestJointStepEqualsTwoSteps: the joint step (one graph, one U-Net evaluation shared by the
// flow's prior term and the denoising loss) gives the same losses, gradient norms and weights
// over three steps as the flow step followed by the diffusion step on its samples, as the
// joint phase ran before, with the data term in the graph and injected from the host.
func TestJointStepEqualsTwoSteps(t *testing.T) {
	be := goBackend(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		name   string
		opaque bool
	}{{"in-graph", false}, {"injected", true}} {
		t.Run(c.name, func(t *testing.T) {
			prob := tinyProblem(t)
			if c.opaque {
				prob.Op, prob.Noise = operators.Opaque(prob.Op), operators.OpaqueNoise(prob.Noise)
			}
			run := func(joint bool) ([]CurveRow, map[string][]float32) {
				tr, err := New(ctx, be, tinyConfig(t, 3), prob, 5, log)
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.compile(); err != nil {
					t.Fatal(err)
				}
				if !joint {
					if tr.flowEx, err = tr.buildFlowStep(); err != nil {
						t.Fatal(err)
					}
					if tr.dmEx, err = tr.buildDiffusionStep(); err != nil {
						t.Fatal(err)
					}
				}
				var rows []CurveRow
				for step := range 3 {
					st := &State{Step: step, LRScale: 1}
					if joint {
						row, err := tr.step(ctx, st)
						if err != nil {
							t.Fatal(err)
						}
						rows = append(rows, row)
						continue
					}
					in := tr.draw(PhaseJoint, step)
					w := tr.lrFactor(step, tr.cfg.Steps)
					row := CurveRow{Phase: phaseNames[PhaseJoint], Step: step + 1, Lambda: tr.lambda(st)}
					fo, x, err := tr.flowStep(ctx, in, row.Lambda, tr.cfg.FlowLR*w)
					if err != nil {
						t.Fatal(err)
					}
					do, err := tr.diffusionStep(in, x, tr.cfg.DiffusionLR*w)
					x.FinalizeAll()
					if err != nil {
						t.Fatal(err)
					}
					row.FlowLoss, row.Entropy, row.NLL, row.Prior, row.FlowGrad = fo.Loss, fo.Entropy, fo.NLL, fo.Prior, fo.GradNorm
					row.ExtraPrior = fo.Extra
					row.DMLoss, row.DMGrad = do.Loss, do.GradNorm
					rows = append(rows, row)
				}
				return rows, weights(t, tr)
			}
			jr, jw := run(true)
			sr, sw := run(false)
			for i := range jr {
				if !close32(jr[i], sr[i]) {
					t.Errorf("step %d: joint %+v\nseparate %+v", i+1, jr[i], sr[i])
				}
			}
			if len(jw) != len(sw) || len(jw) == 0 {
				t.Fatalf("%d variables after the joint steps, %d after the separate ones", len(jw), len(sw))
			}
			for k, a := range jw {
				b := sw[k]
				for i := range a {
					if d := a[i] - b[i]; d > 1e-6 || d < -1e-6 {
						t.Errorf("%s[%d]: joint %v, separate %v", k, i, a[i], b[i])
						break
					}
				}
			}
		})
	}
}

// close32 compares two curve rows to float32 rounding.
func close32(a, b CurveRow) bool {
	vals := func(r CurveRow) []float64 {
		return []float64{r.Lambda, r.FlowLoss, r.Entropy, r.NLL, r.Prior, r.FlowGrad, r.ExtraPrior, r.DMLoss, r.DMGrad}
	}
	va, vb := vals(a), vals(b)
	for i := range va {
		if d := va[i] - vb[i]; d > 1e-6*(1+abs(va[i])) || -d > 1e-6*(1+abs(va[i])) {
			return false
		}
	}
	return a.Step == b.Step && a.Phase == b.Phase
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// weights returns every variable of tr's context (models, optimizer state, EMA) by scope and
// name, as float32.
func weights(t *testing.T, tr *Trainer) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	tr.ctx.EnumerateVariables(func(v *mlctx.Variable) {
		val, err := v.Value()
		if err != nil || val == nil {
			return
		}
		if f, err := tensors.CopyFlatData[float32](val); err == nil {
			out[v.ScopeAndName()] = f
		}
	})
	return out
}
