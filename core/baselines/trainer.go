package baselines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// Objective is one baseline's training loss for the U-Net under /unet (diffusion.UNetScope).
// Every step draws its inputs on the host from the step's own random stream, so a resumed run
// replays an uninterrupted one.
type Objective interface {
	// Name identifies the objective in checkpoints (a folder trained with another objective is
	// refused rather than continued).
	Name() string
	// Terms names what Loss returns, the first being the loss minimized; they are the columns
	// of losses.csv, per pixel.
	Terms() []string
	// Len is the number of training images the steps draw from.
	Len() int
	// Inputs returns the inputs of the step (0-based) for the training images idx, drawn from
	// rng after idx: tensors or float32 scalars, in the order Loss reads them.
	Inputs(rng *rand.Rand, idx []int, step int) []any
	// Loss builds the terms (scalars) from the inputs, in the order of Terms.
	Loss(ctx *mlctx.Context, in []*graph.Node) []*graph.Node
}

// State is a baseline trainer's position, saved in every checkpoint.
type State struct {
	Objective string  `json:"objective"`
	Step      int     `json:"step"` // steps finished
	LRScale   float64 `json:"lr_scale"`
	Rollbacks int     `json:"rollbacks"`
}

// Trainer trains the U-Net of one Objective with the pipeline's train settings: cfg.Steps
// steps of cfg.Batch images, Adam at cfg.DiffusionLR with cfg's warm-up, decay and clipping,
// EMA weights with decay cfg.EMA, a checkpoint every cfg.Checkpoint steps (core/train's format,
// so train.LoadPrior reads the EMA weights), and rollbacks of non-finite steps as in core/train.
type Trainer struct {
	cfg  train.Config
	be   backends.Backend
	ctx  *mlctx.Context
	obj  Objective
	seed int64
	log  *slog.Logger
	exec *mlctx.Exec
	// stopAfter, when positive, makes Run stop with errStopped after that many steps of this
	// process: the tests' stand-in for a killed run.
	stopAfter int
}

var errStopped = errors.New("stopped by test")

// NewTrainer prepares a trainer; the U-Net's weights are initialized from seed when its step
// first runs (or restored from the folder's checkpoint by Run).
func NewTrainer(be backends.Backend, cfg train.Config, obj Objective, seed int64, log *slog.Logger) (*Trainer, error) {
	if obj.Len() < 1 {
		return nil, fmt.Errorf("%s: no training images", obj.Name())
	}
	if cfg.Steps < 1 || cfg.Batch < 1 {
		return nil, fmt.Errorf("%s: need train.steps >= 1 and train.batch >= 1, got %d and %d", obj.Name(), cfg.Steps, cfg.Batch)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Trainer{cfg: cfg, be: be, ctx: mlctx.New().Checked(false), obj: obj, seed: seed, log: log}
	if err := t.ctx.SetRNGStateFromSeed(seed); err != nil {
		return nil, err
	}
	return t, nil
}

// Context returns the U-Net's variables (and the optimizer's and the EMA's).
func (t *Trainer) Context() *mlctx.Context { return t.ctx }

// Run trains from dir's latest checkpoint (or from scratch) to cfg.Steps, writing checkpoints
// and losses.csv into dir. It stops with ctx's error when cancelled; the last checkpoint lets
// the next Run continue, bit for bit.
func (t *Trainer) Run(ctx context.Context, dir string) error {
	st := State{Objective: t.obj.Name(), LRScale: 1}
	if ck, err := train.LoadLatest(dir); err == nil {
		if err := json.Unmarshal(ck.State, &st); err != nil {
			return fmt.Errorf("checkpoint state: %w", err)
		}
		if st.Objective != t.obj.Name() {
			return fmt.Errorf("%s holds a checkpoint of %q, not %q: start a new run folder", dir, st.Objective, t.obj.Name())
		}
		if err := ck.Restore(t.ctx); err != nil {
			return err
		}
		t.log.Info("resuming from checkpoint", "objective", st.Objective, "step", st.Step)
	} else if !errors.Is(err, train.ErrNoCheckpoint) {
		return err
	}
	if st.Step >= t.cfg.Steps {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create training folder: %w", err)
	}
	curve, err := openCurve(dir, t.obj.Terms(), st.Step)
	if err != nil {
		return err
	}
	defer curve.Close()
	if t.exec == nil {
		if t.exec, err = t.build(); err != nil {
			return fmt.Errorf("%s: build the training step: %w", t.obj.Name(), err)
		}
	}
	meter := progress.New(t.log, "training "+t.obj.Name(), "step", t.cfg.Steps)
	for done := 0; st.Step < t.cfg.Steps; done++ {
		if t.stopAfter > 0 && done == t.stopAfter {
			return errStopped
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("training %s interrupted at step %d: %w", t.obj.Name(), st.Step, err)
		}
		lr := t.cfg.DiffusionLR * t.cfg.LRFactor(st.Step, t.cfg.Steps) * st.LRScale
		vals, err := t.step(st.Step, lr)
		if errors.Is(err, errNonFinite) {
			if err := t.rollback(dir, &st, err); err != nil {
				return err
			}
			if err := curve.Rewind(st.Step); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s step %d: %w", t.obj.Name(), st.Step, err)
		}
		st.Step++
		if err := curve.Write(st.Step, vals, lr); err != nil {
			return err
		}
		attrs := make([]any, 0, 2*len(vals))
		for i, name := range append(t.obj.Terms(), "grad_norm") {
			attrs = append(attrs, name, vals[i])
		}
		meter.Update(st.Step, attrs...)
		if st.Step%t.cfg.Checkpoint == 0 || st.Step == t.cfg.Steps {
			if err := curve.Flush(); err != nil {
				return err
			}
			if err := train.SaveCheckpoint(dir, t.ctx, st.Step, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// build compiles one step: the objective's terms, an Adam update of /unet on the first, and
// the EMA update; outputs the terms and the gradient norm before clipping.
func (t *Trainer) build() (*mlctx.Exec, error) {
	opt := train.Adam{Name: "unet", Scope: train.UNetScope, ClipNorm: t.cfg.Clip}
	return mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		lr := in[len(in)-1]
		terms := t.obj.Loss(ctx, in[:len(in)-1])
		norm := opt.Step(ctx, terms[0], lr)
		diffusion.UpdateEMA(ctx, lr.Graph(), diffusion.UNetScope, t.cfg.EMA)
		return append(terms, norm)
	})
}

// errNonFinite marks a step whose loss or gradient norm is NaN or Inf.
var errNonFinite = errors.New("non-finite loss")

// step runs step (0-based) with learning rate lr and returns the terms and the gradient norm.
func (t *Trainer) step(step int, lr float64) ([]float64, error) {
	rng := rand.New(rand.NewPCG(uint64(t.seed), uint64(step)))
	n, b := t.obj.Len(), min(t.cfg.Batch, t.obj.Len())
	idx := rng.Perm(n)[:b]
	in := append(t.obj.Inputs(rng, idx, step), float32(lr))
	out, err := t.exec.Exec(in...)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(out))
	names := append(t.obj.Terms(), "grad_norm")
	var bad []string
	for i, o := range out {
		vals[i] = float64(tensors.ToScalar[float32](o))
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) {
			bad = append(bad, fmt.Sprintf("%s=%v", names[i], vals[i]))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %v", errNonFinite, bad)
	}
	return vals, nil
}

// rollback restores the last checkpoint after a non-finite step and halves the learning rate.
func (t *Trainer) rollback(dir string, st *State, cause error) error {
	st.Rollbacks++
	if st.Rollbacks > t.cfg.MaxRollback {
		return fmt.Errorf("%s step %d: %w; gave up after %d rollbacks: lower train.diffusion_lr or raise train.clip",
			t.obj.Name(), st.Step, cause, t.cfg.MaxRollback)
	}
	ck, err := train.LoadLatest(dir)
	if errors.Is(err, train.ErrNoCheckpoint) {
		return fmt.Errorf("%s step %d: %w before the first checkpoint: lower train.diffusion_lr", t.obj.Name(), st.Step, cause)
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
	t.log.Warn("non-finite step: rolled back to the last checkpoint with a halved learning rate",
		"cause", cause.Error(), "step", st.Step, "back_to", saved.Step)
	st.Step, st.LRScale = saved.Step, st.LRScale*0.5
	return nil
}
