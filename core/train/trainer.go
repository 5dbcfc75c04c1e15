package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// Scopes of the two models' variables in the shared context.
const (
	FlowScope = "/flow"
	UNetScope = "/unet"
)

// Problem is the inverse problem the models learn from: observations y with their per-sample
// operator parameters, the forward operator A and the noise model N.
type Problem struct {
	Obs    *batch.Batch
	Params operators.Params
	Op     operators.Operator // in-graph (GraphOperator); operators.NewCompose() is the identity
	Noise  operators.NoiseModel
	// Clean is the shape of the images to reconstruct (x), which may differ from Obs's.
	Clean batch.Shape
}

// Trainer holds the models' context and the compiled steps.
type Trainer struct {
	cfg     Config
	be      backends.Backend
	ctx     *mlctx.Context
	sched   *diffusion.Schedule
	prob    Problem
	gop     operators.GraphOperator
	gnoise  operators.GraphNoise
	base    *batch.Batch // b(y) per observation
	keys    []string     // sorted parameter keys, the order of the param inputs
	seed    int64
	log     *slog.Logger
	flowEx  *mlctx.Exec
	dmEx    *mlctx.Exec
	genEx   *mlctx.Exec
	imgSize int
	// stopAfter, when positive, makes Run stop with errStopped after that many steps of this
	// process: the tests' stand-in for a killed run.
	stopAfter int
}

var errStopped = errors.New("stopped by test")

// New prepares a trainer. It checks that the operator and noise model have in-graph forms
// (training differentiates through them) and computes the base images b(y).
func New(ctx context.Context, be backends.Backend, cfg Config, prob Problem, seed int64, log *slog.Logger) (*Trainer, error) {
	gop, ok := prob.Op.(operators.GraphOperator)
	if !ok || !operators.HasGraph(prob.Op) {
		return nil, fmt.Errorf("the forward operator has no in-graph form, which training needs")
	}
	gnoise, ok := prob.Noise.(operators.GraphNoise)
	if prob.Noise == nil || !ok {
		return nil, fmt.Errorf("training needs a noise model with an in-graph likelihood as the last corruption item (the data-fidelity term); add e.g. noise.gaussian")
	}
	if err := cfg.Flow.Validate(prob.Clean.H, prob.Clean.W, prob.Clean.C); err != nil {
		return nil, fmt.Errorf("train.flow: %w", err)
	}
	if err := cfg.UNet.Validate(prob.Clean.H, prob.Clean.W, prob.Clean.C); err != nil {
		return nil, fmt.Errorf("train.unet: %w", err)
	}
	sched, err := diffusion.NewLinear(cfg.Diffusion.Steps, cfg.Diffusion.BetaStart, cfg.Diffusion.BetaEnd)
	if err != nil {
		return nil, fmt.Errorf("train.diffusion: %w", err)
	}
	t := &Trainer{cfg: cfg, be: be, ctx: mlctx.New().Checked(false), sched: sched, prob: prob, gop: gop,
		gnoise: gnoise, keys: prob.Params.Keys(), seed: seed, log: log, imgSize: prob.Clean.ImageSize()}
	// Seed weight initialization too: the same pipeline seed gives the same models.
	if err := t.ctx.SetRNGStateFromSeed(seed); err != nil {
		return nil, err
	}
	if t.base, err = baseImages(ctx, prob); err != nil {
		return nil, err
	}
	return t, nil
}

// baseImages returns b(y): y when it has the clean shape, else A^T y (linear operators only).
func baseImages(ctx context.Context, prob Problem) (*batch.Batch, error) {
	o := prob.Obs.Shape
	if o.H == prob.Clean.H && o.W == prob.Clean.W && o.C == prob.Clean.C {
		return prob.Obs, nil
	}
	if !operators.IsLinear(prob.Op) {
		return nil, fmt.Errorf("observations of shape %s differ from images of shape %s and the operator is not linear: cannot form A^T y", o, prob.Clean)
	}
	zero := batch.New(o.N, prob.Clean.H, prob.Clean.W, prob.Clean.C)
	return prob.Op.VJP(ctx, zero, prob.Obs, prob.Params)
}

// Context returns the models' variables (for sampling and evaluation).
func (t *Trainer) Context() *mlctx.Context { return t.ctx }

// Schedule returns the diffusion schedule.
func (t *Trainer) Schedule() *diffusion.Schedule { return t.sched }

// graphParams turns the param inputs into the operator's map.
func (t *Trainer) graphParams(in []*graph.Node) map[string]*graph.Node {
	m := make(map[string]*graph.Node, len(t.keys))
	for i, k := range t.keys {
		m[k] = in[i]
	}
	return m
}

// sample returns x = b + G(z; cond) for the flow.
func (t *Trainer) sample(ctx *mlctx.Context, z, base *graph.Node) (x, logdet *graph.Node) {
	g, logdet := flow.Generate(ctx, t.cfg.Flow, z, base)
	return graph.Add(base, g), logdet
}

// Flow step inputs: z, y, base, eps, tIdx, sqrtAbar, sqrt1mAbar, weight, lambda, lr, params...
// Outputs: loss, entropy, nll, prior (per pixel, batch means), grad norm.
func (t *Trainer) buildFlowStep() (*mlctx.Exec, error) {
	opt := Adam{Name: "flow", Scope: FlowScope, ClipNorm: t.cfg.Clip}
	d := float64(t.imgSize)
	return mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		z, y, base, eps, tIdx, sa, s1m, w, lambda, lr := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9]
		x, logdet := t.sample(ctx, z, base)
		ax := t.gop.ApplyGraph(x, t.graphParams(in[10:]))
		nll := t.gnoise.NLLGraph(y, ax)
		prior := diffusion.PriorTerm(ctx, t.cfg.UNet, toModelRange(x), eps, tIdx, sa, s1m, w)
		ent := graph.DivScalar(graph.ReduceAllMean(graph.Neg(logdet)), d)
		nllM := graph.DivScalar(graph.ReduceAllMean(nll), d)
		priorM := graph.DivScalar(graph.ReduceAllMean(prior), d)
		loss := graph.Add(graph.Add(ent, nllM), graph.Mul(lambda, priorM))
		norm := opt.Step(ctx, loss, lr)
		return []*graph.Node{loss, ent, nllM, priorM, norm}
	})
}

// Diffusion step inputs: z, base, eps, tIdx, sqrtAbar, sqrt1mAbar, lr. Outputs: loss, grad norm.
func (t *Trainer) buildDiffusionStep() (*mlctx.Exec, error) {
	opt := Adam{Name: "unet", Scope: UNetScope, ClipNorm: t.cfg.Clip}
	return mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		z, base, eps, tIdx, sa, s1m, lr := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		x, _ := t.sample(ctx, z, base)
		x0 := graph.StopGradient(toModelRange(x))
		loss := diffusion.DenoiseLoss(ctx, t.cfg.UNet, x0, eps, tIdx, sa, s1m)
		norm := opt.Step(ctx, loss, lr)
		diffusion.UpdateEMA(ctx, loss.Graph(), "unet", t.cfg.EMA)
		return []*graph.Node{loss, norm}
	})
}

// toModelRange maps [0,1] intensities to the [-1,1] range DDPM's schedule is designed for
// (Ho et al. 2020, sec. 3.3). As a change of variables it shifts -log p by the constant
// D log 2, so the prior's gradient is unchanged in meaning.
func toModelRange(x *graph.Node) *graph.Node { return graph.AddScalar(graph.MulScalar(x, 2), -1) }

// buildGenerate compiles x = b + G(z; b) for posterior sampling.
func (t *Trainer) buildGenerate() (*mlctx.Exec, error) {
	return mlctx.NewExec(t.be, t.ctx, func(ctx *mlctx.Context, z, base *graph.Node) *graph.Node {
		x, _ := t.sample(ctx, z, base)
		return x
	})
}

// stepInputs draws the random inputs of one step from the step's own stream, so a resumed
// run replays exactly the batches and noise an uninterrupted one would have seen.
type stepInputs struct {
	idx                   []int
	z, eps                *batch.Batch
	tIdx, sa, s1m, weight []float32
	y, base               *batch.Batch
	params                operators.Params
}

func (t *Trainer) draw(phase, step int) stepInputs {
	rng := rand.New(rand.NewPCG(uint64(t.seed), uint64(phase)<<40|uint64(step)))
	n, b := t.prob.Obs.N, min(t.cfg.Batch, t.prob.Obs.N)
	idx := rng.Perm(n)[:b]
	s := t.prob.Clean
	in := stepInputs{idx: idx, z: gaussian(rng, b, s), eps: gaussian(rng, b, s),
		y: t.prob.Obs.Gather(idx), base: t.base.Gather(idx), params: t.prob.Params.Gather(idx)}
	var ts []int
	if t.cfg.TSampling == "uniform" {
		ts = t.sched.SampleUniform(rng, b)
	} else {
		ts = t.sched.SampleImportance(rng, b)
	}
	in.sa, in.s1m = t.sched.Coefficients(ts)
	in.tIdx = make([]float32, b)
	in.weight = make([]float32, b)
	for k, i := range ts {
		in.tIdx[k] = float32(i)
		if t.cfg.TSampling == "uniform" {
			in.weight[k] = float32(float64(t.sched.Steps()) * t.sched.ELBOWeight[i])
		} else {
			in.weight[k] = float32(t.sched.ELBOTotal)
		}
	}
	return in
}

func gaussian(rng *rand.Rand, n int, s batch.Shape) *batch.Batch {
	b := batch.New(n, s.H, s.W, s.C)
	for i := range b.Data {
		b.Data[i] = float32(rng.NormFloat64())
	}
	return b
}

func toTensor(b *batch.Batch) *tensors.Tensor { return operators.ToTensor(b) }

func (t *Trainer) paramTensors(p operators.Params) []any {
	out := make([]any, len(t.keys))
	for i, k := range t.keys {
		out[i] = toTensor(p[k])
	}
	return out
}

// flowStep runs one flow step and returns its outputs as float64.
func (t *Trainer) flowStep(in stepInputs, lambda, lr float64) ([]float64, error) {
	args := []any{toTensor(in.z), toTensor(in.y), toTensor(in.base), toTensor(in.eps),
		tensors.FromValue(in.tIdx), tensors.FromValue(in.sa), tensors.FromValue(in.s1m), tensors.FromValue(in.weight),
		float32(lambda), float32(lr)}
	return scalars(t.flowEx.Exec(append(args, t.paramTensors(in.params)...)...))
}

func (t *Trainer) diffusionStep(in stepInputs, lr float64) ([]float64, error) {
	return scalars(t.dmEx.Exec(toTensor(in.z), toTensor(in.base), toTensor(in.eps),
		tensors.FromValue(in.tIdx), tensors.FromValue(in.sa), tensors.FromValue(in.s1m), float32(lr)))
}

func scalars(out []*tensors.Tensor, err error) ([]float64, error) {
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(out))
	for i, o := range out {
		vals[i] = float64(tensors.ToScalar[float32](o))
	}
	return vals, nil
}

// errNonFinite marks a step whose loss or gradient norm is NaN or Inf.
var errNonFinite = errors.New("non-finite loss")

func checkFinite(names []string, vals []float64) error {
	var bad []string
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, fmt.Sprintf("%s=%v", names[i], v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %v", errNonFinite, bad)
	}
	return nil
}

// resetScope deletes the variables (and optimizer state) of a model so the next graph build
// re-initializes them; compiled steps are dropped because they refer to the old variables.
func (t *Trainer) resetScope(scope, optName string) error {
	if err := t.ctx.InAbsPath(scope).DeleteVariablesInScope(); err != nil {
		return err
	}
	if err := t.ctx.InAbsPath("/optim/" + optName).DeleteVariablesInScope(); err != nil {
		return err
	}
	t.flowEx, t.dmEx, t.genEx = nil, nil, nil
	return nil
}
