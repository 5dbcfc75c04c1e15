package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/progress"
)

// Phases of training, in order.
const (
	PhaseJoint     = 0 // flow and diffusion steps alternate
	PhaseFlow      = 1 // reset: a new flow against the frozen prior
	PhaseDiffusion = 2 // reset: a new diffusion model on the new flow's samples
)

var phaseNames = []string{"joint", "flow-reset", "diffusion-reset"}

// State is the trainer's position, saved in every checkpoint.
//
// Step numbers are one numbering everywhere (errors, run.log, losses.csv, checkpoints; see
// docs/training.md): step k is the k-th step of its phase, counted from 1. Its row in
// losses.csv has step k, the progress line after it says step=k, the checkpoint written after
// it is step-k, and an error while it runs names "<phase> step k". State.Step counts the steps
// finished, so the step running is State.Step+1.
type State struct {
	Phase     int     `json:"phase"`
	Step      int     `json:"step"` // steps finished in Phase
	LRScale   float64 `json:"lr_scale"`
	Rollbacks int     `json:"rollbacks"`
	// TrainSeconds is the wall time spent in training steps so far, over every process that
	// ran them (checkpoint writes and validation not counted).
	TrainSeconds float64 `json:"train_s,omitempty"`
}

// next names the step that runs next (or is running): "joint step 5" after 4 finished.
func (st *State) next() string { return fmt.Sprintf("%s step %d", phaseNames[st.Phase], st.Step+1) }

// Run trains from the run folder's latest checkpoint (or from scratch) to the end of the
// last phase, writing checkpoints and losses.csv into dir. It stops cleanly with ctx's error
// when cancelled; the last checkpoint then lets the next Run continue.
func (t *Trainer) Run(ctx context.Context, dir string) error {
	st := State{LRScale: 1}
	if ck, err := LoadLatest(dir); err == nil {
		if err := json.Unmarshal(ck.State, &st); err != nil {
			return fmt.Errorf("checkpoint state: %w", err)
		}
		if err := ck.Restore(t.ctx); err != nil {
			return err
		}
		for _, w := range ck.Warnings {
			t.log.Warn(w)
		}
		t.log.Info("resuming from checkpoint", "checkpoint", ck.Name, "phase", phaseNames[st.Phase], "step", st.Step, "next_step", st.Step+1)
	} else if !errors.Is(err, ErrNoCheckpoint) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create training folder: %w", err)
	}
	curve, err := openCurve(filepath.Join(dir, CurveFile), st)
	if err != nil {
		return err
	}
	defer curve.Close()
	if t.val != nil {
		if err := t.val.open(dir, st); err != nil {
			return err
		}
	}

	for ; st.Phase < len(phaseNames); st.Phase, st.Step = st.Phase+1, 0 {
		n := t.phaseLen(st.Phase)
		if n == 0 {
			continue
		}
		if st.Step == 0 && st.Phase == PhaseFlow {
			t.log.Info("model reset: re-initializing the flow; the diffusion prior is frozen")
			if err := t.resetScope(FlowScope, "flow"); err != nil {
				return err
			}
		}
		if st.Step == 0 && st.Phase == PhaseDiffusion {
			t.log.Info("model reset: re-initializing the diffusion model on the new flow's samples")
			if err := t.resetScope(UNetScope, "unet"); err != nil {
				return err
			}
		}
		if err := t.runPhase(ctx, dir, &st, n, curve); err != nil {
			return err
		}
	}
	return nil
}

// runPhase runs steps st.Step..n-1 of the current phase.
func (t *Trainer) runPhase(ctx context.Context, dir string, st *State, n int, curve *curveWriter) error {
	if err := t.compile(); err != nil {
		return err
	}
	meter := progress.New(t.log, "training "+phaseNames[st.Phase], "step", n)
	if t.progressEvery > 0 {
		meter.Every(t.progressEvery)
	}
	meter.Skip(st.Step) // finished before a resume: not this process's rate
	done := 0
	for st.Step < n {
		if t.stopAfter > 0 && done == t.stopAfter {
			return errStopped
		}
		done++
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("training interrupted before %s: %w", st.next(), err)
		}
		start := time.Now()
		row, err := t.step(ctx, st)
		if errors.Is(err, errNonFinite) {
			if err := t.rollback(dir, st, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", st.next(), err)
		}
		st.Step++
		st.TrainSeconds += time.Since(start).Seconds()
		if err := curve.Write(row); err != nil {
			return err
		}
		meter.Update(st.Step, "flow_loss", row.FlowLoss, "nll", row.NLL, "prior", row.Prior, "extra_prior", row.ExtraPrior, "dm_loss", row.DMLoss)
		if st.Step%t.cfg.Checkpoint == 0 || st.Step == n {
			if err := curve.Flush(); err != nil {
				return err
			}
			if err := SaveCheckpoint(dir, t.ctx, st.Step, st); err != nil {
				return err
			}
			if t.val != nil {
				if err := t.score(ctx, st); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (t *Trainer) compile() error {
	var err error
	if t.jointEx == nil {
		if t.jointEx, err = t.buildJointStep(); err != nil {
			return fmt.Errorf("build joint step: %w", err)
		}
	}
	if t.flowEx == nil && t.cfg.Reset.FlowSteps > 0 {
		if t.flowEx, err = t.buildFlowStep(); err != nil {
			return fmt.Errorf("build flow step: %w", err)
		}
	}
	if t.dmEx == nil && t.cfg.Reset.DiffusionSteps > 0 {
		if t.dmEx, err = t.buildDiffusionStep(); err != nil {
			return fmt.Errorf("build diffusion step: %w", err)
		}
	}
	if t.genEx == nil && (t.needsHost() || t.cfg.Reset.DiffusionSteps > 0) {
		if t.genEx, err = t.buildGenerate(); err != nil {
			return fmt.Errorf("build the forward pass of gradient injection: %w", err)
		}
	}
	return nil
}

// lrFactor returns the learning-rate factor of step (0-based) of a phase of n steps
// (Config.LRFactor).
func (t *Trainer) lrFactor(step, n int) float64 { return t.cfg.LRFactor(step, n) }

// phaseLen returns the number of steps of a phase.
func (t *Trainer) phaseLen(phase int) int {
	return []int{t.cfg.Steps, t.cfg.Reset.FlowSteps, t.cfg.Reset.DiffusionSteps}[phase]
}

// lambda returns the prior weight at a joint step (ramped), and the full weight in the
// flow-reset phase, whose prior is trained.
func (t *Trainer) lambda(st *State) float64 {
	if st.Phase != PhaseJoint || t.cfg.PriorWarmup == 0 {
		return t.cfg.Lambda
	}
	return t.cfg.Lambda * min(1, float64(st.Step)/float64(t.cfg.PriorWarmup))
}

// step runs the phase's steps for State's position.
func (t *Trainer) step(ctx context.Context, st *State) (CurveRow, error) {
	in := t.draw(st.Phase, st.Step)
	row := CurveRow{Phase: phaseNames[st.Phase], Step: st.Step + 1}
	w := t.lrFactor(st.Step, t.phaseLen(st.Phase)) * st.LRScale
	var x *tensors.Tensor // the step's flow samples, for the diffusion step
	defer func() {
		if x != nil {
			x.FinalizeAll()
		}
	}()
	if st.Phase == PhaseJoint {
		row.Lambda = t.lambda(st)
		fo, do, err := t.jointStep(ctx, in, row.Lambda, t.cfg.FlowLR*w, t.cfg.DiffusionLR*w)
		if err != nil {
			return row, err
		}
		if err := checkFinite(fo.slots()); err != nil {
			return row, err
		}
		if err := checkFinite(do.slots()); err != nil {
			return row, err
		}
		row.FlowLoss, row.Entropy, row.NLL, row.Prior, row.FlowGrad = fo.Loss, fo.Entropy, fo.NLL, fo.Prior, fo.GradNorm
		row.ExtraPrior = fo.Extra
		row.DMLoss, row.DMGrad = do.Loss, do.GradNorm
		return row, nil
	}
	if st.Phase != PhaseDiffusion {
		row.Lambda = t.lambda(st)
		out, samples, err := t.flowStep(ctx, in, row.Lambda, t.cfg.FlowLR*w)
		if err != nil {
			return row, err
		}
		x = samples
		if err := checkFinite(out.slots()); err != nil {
			return row, err
		}
		row.FlowLoss, row.Entropy, row.NLL, row.Prior, row.FlowGrad = out.Loss, out.Entropy, out.NLL, out.Prior, out.GradNorm
		row.ExtraPrior = out.Extra // 0 without injected terms
	}
	if st.Phase != PhaseFlow {
		if x == nil {
			out, err := t.genEx.Exec(toTensor(in.z), toTensor(in.base))
			if err != nil {
				return row, fmt.Errorf("draw the flow's samples: %w", err)
			}
			x = out[0]
		}
		out, err := t.diffusionStep(in, x, t.cfg.DiffusionLR*w)
		if err != nil {
			return row, err
		}
		if err := checkFinite(out.slots()); err != nil {
			return row, err
		}
		row.DMLoss, row.DMGrad = out.Loss, out.GradNorm
	}
	return row, nil
}

// rollback restores the last checkpoint after a non-finite step and halves the learning
// rates, instead of writing garbage into the models.
func (t *Trainer) rollback(dir string, st *State, cause error) error {
	st.Rollbacks++
	if st.Rollbacks > t.cfg.MaxRollback {
		return fmt.Errorf("%s: %w; gave up after %d rollbacks: lower flow_lr/diffusion_lr or raise clip",
			st.next(), cause, t.cfg.MaxRollback)
	}
	ck, err := LoadLatest(dir)
	if errors.Is(err, ErrNoCheckpoint) {
		return fmt.Errorf("%s: %w before the first checkpoint: lower the learning rates", st.next(), cause)
	}
	if err != nil {
		return err
	}
	var saved State
	if err := json.Unmarshal(ck.State, &saved); err != nil {
		return err
	}
	if err := ck.Restore(t.ctx); err != nil {
		return err
	}
	for _, w := range ck.Warnings {
		t.log.Warn(w)
	}
	t.log.Warn("non-finite step: rolled back to the last checkpoint with halved learning rates",
		"cause", cause.Error(), "phase", phaseNames[st.Phase], "step", st.Step+1, "back_to_checkpoint", ck.Name)
	st.Phase, st.Step, st.LRScale = saved.Phase, saved.Step, st.LRScale*0.5
	return nil
}
