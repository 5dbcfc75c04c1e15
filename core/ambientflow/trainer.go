package ambientflow

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

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// Objective is the name of AmbientFlow's checkpoints (a folder of another trainer is refused).
const Objective = "ambientflow"

// Terms are the columns of losses.csv, per pixel in nats: the loss, then its three parts
// (-log|det ∂G/∂z|, the data term NLL(y|A x) before the weight lambda, -log p_θ(x) of the
// posterior samples), then the two optimizers' gradient norms before clipping.
var Terms = []string{"loss", "neg_logdet", "data_nll", "prior_nll", "post_grad_norm", "prior_grad_norm"}

// Problem is what AmbientFlow trains on: the observations and their forward model.
type Problem struct {
	Obs   *batch.Batch            // training observations [N,H,W,C], [0,1] intensities
	Op    operators.GraphOperator // A without per-sample parameters; nil is the identity
	Noise operators.GraphNoise    // the noise model's in-graph NLL
	Post  flow.Config             // the posterior network (the pipeline's train.flow)
	Train train.Config            // steps, batch, warm-up, decay, clip, checkpoint_every
	Conf  Config                  // AmbientFlow's settings
}

// State is the trainer's position, saved in every checkpoint.
type State struct {
	Objective string `json:"objective"`
	Step      int    `json:"step"` // steps finished
}

// Trainer trains both networks of a Problem.
type Trainer struct {
	p    Problem
	be   backends.Backend
	ctx  *mlctx.Context
	seed int64
	log  *slog.Logger
	exec *mlctx.Exec
}

// New prepares a trainer; weights are initialized from seed on the first step, or restored by Run.
func New(be backends.Backend, p Problem, seed int64, log *slog.Logger) (*Trainer, error) {
	if p.Obs == nil || p.Obs.N < 1 {
		return nil, errors.New("ambientflow: no training observations")
	}
	if p.Noise == nil {
		return nil, errors.New("ambientflow: the data term needs a noise model with an in-graph likelihood")
	}
	if p.Train.Steps < 1 || p.Train.Batch < 1 {
		return nil, fmt.Errorf("ambientflow: need train.steps >= 1 and train.batch >= 1, got %d and %d", p.Train.Steps, p.Train.Batch)
	}
	if err := p.Conf.Check(p.Post, p.Obs.H, p.Obs.W, p.Obs.C); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Trainer{p: p, be: be, ctx: mlctx.New().Checked(false), seed: seed, log: log}
	if err := t.ctx.SetRNGStateFromSeed(seed); err != nil {
		return nil, err
	}
	return t, nil
}

// Context returns both networks' variables and the optimizers' state.
func (t *Trainer) Context() *mlctx.Context { return t.ctx }

// Run trains from dir's latest checkpoint (or from scratch) to Train.Steps, writing checkpoints
// (core/train's format) and losses.csv into dir. A non-finite step stops it with an error that
// says what to lower (no rollback).
func (t *Trainer) Run(ctx context.Context, dir string) error {
	st := State{Objective: Objective}
	if ck, err := train.LoadLatest(dir); err == nil {
		if err := json.Unmarshal(ck.State, &st); err != nil {
			return fmt.Errorf("checkpoint state: %w", err)
		}
		if st.Objective != Objective {
			return fmt.Errorf("%s holds a checkpoint of %q, not %q: start a new run folder", dir, st.Objective, Objective)
		}
		if err := ck.Restore(t.ctx); err != nil {
			return err
		}
		t.log.Info("resuming from checkpoint", "objective", Objective, "step", st.Step)
	} else if !errors.Is(err, train.ErrNoCheckpoint) {
		return err
	}
	if st.Step >= t.p.Train.Steps {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create training folder: %w", err)
	}
	curve, err := openCurve(dir, st.Step)
	if err != nil {
		return err
	}
	meter := progress.New(t.log, "training ambientflow", "step", t.p.Train.Steps)
	for st.Step < t.p.Train.Steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("training ambientflow interrupted at step %d: %w", st.Step, err)
		}
		f := t.p.Train.LRFactor(st.Step, t.p.Train.Steps)
		vals, err := t.Step(st.Step, f)
		if err != nil {
			return fmt.Errorf("ambientflow step %d: %w", st.Step, err)
		}
		st.Step++
		curve.add(st.Step, vals, f)
		attrs := make([]any, 0, 2*len(vals))
		for i, name := range Terms {
			attrs = append(attrs, name, vals[i])
		}
		meter.Update(st.Step, attrs...)
		if st.Step%t.p.Train.Checkpoint == 0 || st.Step == t.p.Train.Steps {
			if err := curve.save(); err != nil {
				return err
			}
			if err := train.SaveCheckpoint(dir, t.ctx, st.Step, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// Load restores the latest checkpoint of the training folder dir (for sampling and
// restorations after the train stage); it fails when there is none or it is another trainer's.
func (t *Trainer) Load(dir string) (State, error) {
	var st State
	ck, err := train.LoadLatest(dir)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(ck.State, &st); err != nil {
		return st, fmt.Errorf("checkpoint state: %w", err)
	}
	if st.Objective != Objective {
		return st, fmt.Errorf("%s holds a checkpoint of %q, not %q", dir, st.Objective, Objective)
	}
	return st, ck.Restore(t.ctx)
}

// Step runs training step step (0-based) with both learning rates times lrFactor, and returns
// the Terms. Its batch and noise come from the step's own random stream (seed, step), so a
// resumed run replays an uninterrupted one.
func (t *Trainer) Step(step int, lrFactor float64) ([]float64, error) {
	if t.exec == nil {
		var err error
		if t.exec, err = mlctx.NewExec(t.be, t.ctx, t.stepGraph); err != nil {
			return nil, fmt.Errorf("build the training step: %w", err)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(t.seed), uint64(step)))
	obs := t.p.Obs
	b := min(t.p.Train.Batch, obs.N)
	y := gather(obs, rng.Perm(obs.N)[:b])
	eps := normal(rng, t.p.Conf.Samples*b, obs.H, obs.W, obs.C)
	out, err := t.exec.Exec(y, eps, float32(t.p.Conf.PosteriorLR*lrFactor), float32(t.p.Conf.PriorLR*lrFactor))
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(out))
	for i, o := range out {
		vals[i] = float64(tensors.ToScalar[float32](o))
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) {
			return nil, fmt.Errorf("non-finite %s = %v: lower train.ambientflow's prior_lr and posterior_lr (or lambda), or a lower train.clip", Terms[i], vals[i])
		}
	}
	return vals, nil
}

// stepGraph builds the loss of the doc's objective and both Adam updates, from one backward pass.
func (t *Trainer) stepGraph(ctx *mlctx.Context, y, eps, lrPost, lrPrior *graph.Node) []*graph.Node {
	negLd, nll, priorNLL := t.losses(ctx, y, eps)
	loss := graph.Add(graph.Add(negLd, graph.MulScalar(nll, t.p.Conf.Lambda)), priorNLL)
	norms := train.StepAll(ctx, loss, []train.Adam{
		{Name: "post", Scope: "/" + PostScope, ClipNorm: t.p.Train.Clip},
		{Name: "prior", Scope: "/" + PriorScope, ClipNorm: t.p.Train.Clip},
	}, []*graph.Node{lrPost, lrPrior})
	return []*graph.Node{loss, negLd, nll, priorNLL, norms[0], norms[1]}
}

// losses returns the batch means, per pixel, of -log|det ∂G/∂z|, NLL(y | A x) and -log p_θ(x)
// for the posterior samples x = G(eps_k; y) (eps [K·B,...], sample k of observation i at
// k·B + i).
func (t *Trainer) losses(ctx *mlctx.Context, y, eps *graph.Node) (negLd, nll, priorNLL *graph.Node) {
	k := eps.Shape().Dimensions[0] / y.Shape().Dimensions[0]
	yk := y
	if k > 1 {
		reps := make([]*graph.Node, k)
		for i := range reps {
			reps[i] = y
		}
		yk = graph.Concatenate(reps, 0)
	}
	c, ld := flow.Generate(ctx.In(PostScope), t.p.Post, eps, graph.AddScalar(yk, -0.5))
	x := graph.AddScalar(c, 0.5)
	ax := x
	if t.p.Op != nil {
		ax = t.p.Op.ApplyGraph(x, nil)
	}
	d := y.Shape().Dimensions
	perPixel := 1 / float64(d[1]*d[2]*d[3])
	negLd = graph.MulScalar(graph.ReduceAllMean(ld), -perPixel)
	nll = graph.MulScalar(graph.ReduceAllMean(t.p.Noise.NLLGraph(yk, ax)), perPixel)
	priorNLL = graph.MulScalar(graph.ReduceAllMean(LogProb(ctx, t.p.Conf.Prior, x)), -perPixel)
	return negLd, nll, priorNLL
}

// posterior is x = G(eps; y) + 1/2 in [0,1] intensities.
func (t *Trainer) posterior(ctx *mlctx.Context, y, eps *graph.Node) *graph.Node {
	c, _ := flow.Generate(ctx.In(PostScope), t.p.Post, eps, graph.AddScalar(y, -0.5))
	return graph.AddScalar(c, 0.5)
}

// gather copies the images idx of b into a tensor.
func gather(b *batch.Batch, idx []int) *tensors.Tensor {
	size := b.H * b.W * b.C
	data := make([]float32, len(idx)*size)
	for i, j := range idx {
		copy(data[i*size:(i+1)*size], b.Data[j*size:(j+1)*size])
	}
	return tensors.FromFlatDataAndDimensions(data, len(idx), b.H, b.W, b.C)
}

// normal draws an [n,h,w,c] tensor of standard normal values from rng.
func normal(rng *rand.Rand, n, h, w, c int) *tensors.Tensor {
	data := make([]float32, n*h*w*c)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, n, h, w, c)
}
