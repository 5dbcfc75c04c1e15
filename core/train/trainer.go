package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
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
	Params part.Params
	// Op is A: any operator; operators.NewCompose() is the identity. One with an in-graph form
	// (operators.HasGraph) together with a GraphNoise trains on the in-graph path, any other
	// combination (a plugin's operator or noise model) by gradient injection.
	Op    part.Operator
	Noise part.NoiseModel
	// Clean is the shape of the images to reconstruct (x), which may differ from Obs's.
	Clean batch.Shape
	// Priors are extra priors added to the flow loss besides those of Config.Priors (a caller
	// that holds part.Prior values, such as a test or a plugin host, passes them here).
	Priors []WeightedPrior
	// OpID and NoiseID name Op and Noise in log lines and errors by their registry IDs
	// ("blur.gaussian then micro.widefield", "noise.gaussian"); empty: the Go type.
	OpID, NoiseID string
}

// opName and noiseName name the parts for people: their IDs, else their Go types.
func (p *Problem) opName() string    { return nameOr(p.OpID, p.Op) }
func (p *Problem) noiseName() string { return nameOr(p.NoiseID, p.Noise) }

func nameOr(id string, v any) string {
	if id != "" {
		return id
	}
	return fmt.Sprintf("%T", v)
}

// Trainer holds the models' context and the compiled steps.
type Trainer struct {
	cfg     Config
	be      backends.Backend
	ctx     *mlctx.Context
	sched   *diffusion.Schedule
	prob    Problem
	gop     operators.GraphOperator // nil when inject
	gnoise  operators.GraphNoise    // nil when inject
	inject  bool                    // the data term is computed outside the graph (injection)
	priors  []WeightedPrior         // extra priors, always injected
	base    *batch.Batch            // b(y) per observation
	keys    []string                // sorted parameter keys, the order of the param inputs
	seed    int64
	log     *slog.Logger
	jointEx *mlctx.Exec // the joint phase's step: both models' updates in one graph
	flowEx  *mlctx.Exec // the flow-reset phase's step
	dmEx    *mlctx.Exec // the diffusion-reset phase's step
	genEx   *mlctx.Exec
	imgSize int
	built   []WeightedPrior // the priors New built from cfg.Priors; Close closes them
	// stopAfter, when positive, makes Run stop with errStopped after that many steps of this
	// process: the tests' stand-in for a killed run.
	stopAfter int
	// progressEvery, when positive, replaces progress.DefaultInterval between progress lines
	// (tests).
	progressEvery time.Duration
	// val, when set (SetValidation), scores the posterior mean at every checkpoint.
	val *validator
}

var errStopped = errors.New("stopped by test")

// New prepares a trainer: it picks the in-graph path when both the operator and the noise
// model have in-graph forms and gradient injection otherwise, builds the extra priors, and
// computes the base images b(y).
func New(ctx context.Context, be backends.Backend, cfg Config, prob Problem, seed int64, log *slog.Logger) (*Trainer, error) {
	if prob.Op == nil {
		return nil, fmt.Errorf("training needs a forward operator (operators.NewCompose() for the identity)")
	}
	if prob.Noise == nil {
		return nil, fmt.Errorf("training needs a noise model as the last corruption item (the data-fidelity term); add e.g. noise.gaussian")
	}
	gop, opOK := prob.Op.(operators.GraphOperator)
	gnoise, noiseOK := prob.Noise.(operators.GraphNoise)
	inject := !opOK || !operators.HasGraph(prob.Op) || !noiseOK
	if inject {
		gop, gnoise = nil, nil
		log.Info("the data term is trained by gradient injection (the operator or the noise model has no in-graph form)",
			"operator", prob.opName(), "noise", prob.noiseName())
	}
	built, err := BuildPriors(ctx, cfg.Priors)
	if err != nil {
		return nil, err
	}
	t, err := newTrainer(ctx, be, cfg, prob, built, gop, gnoise, inject, seed, log)
	if err != nil {
		closePriors(built)
		return nil, err
	}
	return t, nil
}

// newTrainer is New once the priors of train.priors are built (built are closed by the
// trainer's Close).
func newTrainer(ctx context.Context, be backends.Backend, cfg Config, prob Problem, built []WeightedPrior,
	gop operators.GraphOperator, gnoise operators.GraphNoise, inject bool, seed int64, log *slog.Logger) (*Trainer, error) {
	priors := append(slices.Clip(built), prob.Priors...)
	for i, p := range priors {
		if p.Prior == nil || !(p.Weight >= 0) || math.IsInf(p.Weight, 0) {
			return nil, fmt.Errorf("extra prior %d (%s): needs a prior and a finite weight >= 0, got %v", i, p.Name, p.Weight)
		}
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
		gnoise: gnoise, inject: inject, priors: priors, built: built, keys: prob.Params.Keys(), seed: seed, log: log,
		imgSize: prob.Clean.ImageSize()}
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
	if !part.IsLinear(prob.Op) {
		return nil, fmt.Errorf("observations of shape %s differ from images of shape %s and the operator is not linear: cannot form A^T y", o, prob.Clean)
	}
	zero := batch.New(o.N, prob.Clean.H, prob.Clean.W, prob.Clean.C)
	return prob.Op.VJP(ctx, zero, prob.Obs, prob.Params)
}

// Context returns the models' variables (for sampling and evaluation).
func (t *Trainer) Context() *mlctx.Context { return t.ctx }

// Schedule returns the diffusion schedule.
func (t *Trainer) Schedule() *diffusion.Schedule { return t.sched }

// graphParams turns the param inputs (flowIn.Params) into the operator's map.
func (t *Trainer) graphParams(params []*graph.Node) map[string]*graph.Node {
	m := make(map[string]*graph.Node, len(t.keys))
	for i, k := range t.keys {
		m[k] = params[i]
	}
	return m
}

// sample returns x = b + G(z; cond) for the flow.
func (t *Trainer) sample(ctx *mlctx.Context, z, base *graph.Node) (x, logdet *graph.Node) {
	g, logdet := flow.Generate(ctx, t.cfg.Flow, z, base)
	return graph.Add(base, g), logdet
}

// nameFlowIn names the compiled flow step's inputs with this trainer's layout (operator
// parameters for the in-graph data term, injected terms when some term is injected).
func (t *Trainer) nameFlowIn(in []*graph.Node) flowIn[*graph.Node] {
	return nameFlowIn(in, t.numParamInputs(), t.needsHost())
}

// buildFlowStep compiles the flow step: inputs flowIn (see flowArgs), outputs flowOut.
func (t *Trainer) buildFlowStep() (*mlctx.Exec, error) {
	return mlctx.NewExec(t.be, t.ctx, t.flowStepGraph)
}

// flowStepGraph builds the flow step (loss and Adam update) from its inputs. Its first output
// is the step's samples x (before the update), which the diffusion step trains on.
func (t *Trainer) flowStepGraph(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	opt := Adam{Name: "flow", Scope: FlowScope, ClipNorm: t.cfg.Clip}
	args := t.nameFlowIn(in)
	out, x, _ := t.flowLoss(ctx, args)
	out.GradNorm = opt.Step(ctx, out.Loss, args.LR)
	return append([]*graph.Node{x}, out.flat()...)
}

// buildJointStep compiles the joint phase's step: the flow step's inputs and the diffusion
// learning rate last; outputs flowOut then diffOut.
func (t *Trainer) buildJointStep() (*mlctx.Exec, error) {
	return mlctx.NewExec(t.be, t.ctx, t.jointStepGraph)
}

// jointStepGraph builds one joint step, the flow step and then the diffusion step on the flow
// step's samples, as one graph. The diffusion step's denoising loss is that of the flow's
// samples x (before the flow's update) with the same eps and t as the flow's prior term, so
// both read one U-Net evaluation (diffusion.PriorTermAndLoss) where two compiled steps ran it
// twice and sent x through the host in between. Each optimizer takes the gradient of its own
// loss in its own variables: the flow's of the flow loss, the U-Net's of the denoising loss
// (no gradient of it reaches the flow: its x is the flow step's x0 = stopgrad(G(z; y))). The
// results equal those of flowStepGraph followed by diffusionStepGraph.
func (t *Trainer) jointStepGraph(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	args := t.nameFlowIn(in[:len(in)-1])
	dmLR := in[len(in)-1]
	out, _, dm := t.flowLoss(ctx, args)
	out.GradNorm = Adam{Name: "flow", Scope: FlowScope, ClipNorm: t.cfg.Clip}.Step(ctx, out.Loss, args.LR)
	norm := Adam{Name: "unet", Scope: UNetScope, ClipNorm: t.cfg.Clip}.Step(ctx, dm, dmLR)
	diffusion.UpdateEMA(ctx, dm.Graph(), "unet", t.cfg.EMA)
	return append(out.flat(), diffOut[*graph.Node]{Loss: dm, GradNorm: norm}.flat()...)
}

// flowLoss builds the flow loss from the flow step's inputs: the outputs but the gradient norm
// (the loss, its entropy, NLL and prior terms, and the extra priors' term when some term is
// injected), the step's samples x, and the U-Net's denoising loss on x with the prior term's
// eps and t (for the joint step; a graph that does not use it does not compute it).
func (t *Trainer) flowLoss(ctx *mlctx.Context, in flowIn[*graph.Node]) (flowOut[*graph.Node], *graph.Node, *graph.Node) {
	d := float64(t.imgSize)
	if !t.needsHost() { // the in-graph path, as it always was
		x, logdet := t.sample(ctx, in.Z, in.Base)
		ax := t.gop.ApplyGraph(x, t.graphParams(in.Params))
		nll := t.gnoise.NLLGraph(in.Y, ax)
		prior, dm := diffusion.PriorTermAndLoss(ctx, t.cfg.UNet, toModelRange(x), in.Eps, in.TIdx, in.SqrtAbar, in.Sqrt1mAbar, in.Weight)
		ent := graph.DivScalar(graph.ReduceAllMean(graph.Neg(logdet)), d)
		nllM := graph.DivScalar(graph.ReduceAllMean(nll), d)
		priorM := graph.DivScalar(graph.ReduceAllMean(prior), d)
		loss := graph.Add(graph.Add(ent, nllM), graph.Mul(in.Lambda, priorM))
		return flowOut[*graph.Node]{Loss: loss, Entropy: ent, NLL: nllM, Prior: priorM}, x, dm
	}
	x, logdet := t.sample(ctx, in.Z, in.Base)
	nllM := in.HostNLL
	if !t.inject {
		ax := t.gop.ApplyGraph(x, t.graphParams(in.Params))
		nllM = graph.DivScalar(graph.ReduceAllMean(t.gnoise.NLLGraph(in.Y, ax)), d)
	}
	prior, dm := diffusion.PriorTermAndLoss(ctx, t.cfg.UNet, toModelRange(x), in.Eps, in.TIdx, in.SqrtAbar, in.Sqrt1mAbar, in.Weight)
	ent := graph.DivScalar(graph.ReduceAllMean(graph.Neg(logdet)), d)
	priorM := graph.DivScalar(graph.ReduceAllMean(prior), d)
	loss := graph.Add(graph.Add(ent, nllM), graph.Mul(in.Lambda, priorM))
	loss = graph.Add(graph.Add(loss, in.HostExtra), injected(x, in.HostGrad))
	return flowOut[*graph.Node]{Loss: loss, Entropy: ent, NLL: nllM, Prior: priorM, Host: true, Extra: in.HostExtra}, x, dm
}

// buildDiffusionStep compiles the diffusion step: inputs diffIn, outputs diffOut. The samples
// come from the joint step's flow step (x0 = stopgrad(G(z; y)) with the flow's weights before
// its update, as the paper's scheme detaches them), so the flow's forward pass is not computed
// twice; in the diffusion-reset phase, which has no flow step, from the forward-only graph
// (buildGenerate).
func (t *Trainer) buildDiffusionStep() (*mlctx.Exec, error) {
	return mlctx.NewExec(t.be, t.ctx, t.diffusionStepGraph)
}

// diffusionStepGraph builds the diffusion step (loss, Adam update and EMA) from its inputs.
func (t *Trainer) diffusionStepGraph(ctx *mlctx.Context, flat []*graph.Node) []*graph.Node {
	opt := Adam{Name: "unet", Scope: UNetScope, ClipNorm: t.cfg.Clip}
	in := nameDiffIn(flat)
	x := in.X
	x0 := graph.StopGradient(toModelRange(x))
	loss := diffusion.DenoiseLoss(ctx, t.cfg.UNet, x0, in.Eps, in.TIdx, in.SqrtAbar, in.Sqrt1mAbar)
	norm := opt.Step(ctx, loss, in.LR)
	diffusion.UpdateEMA(ctx, loss.Graph(), "unet", t.cfg.EMA)
	return diffOut[*graph.Node]{Loss: loss, GradNorm: norm}.flat()
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
	params                part.Params
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

func (t *Trainer) paramTensors(p part.Params) []any {
	out := make([]any, len(t.keys))
	for i, k := range t.keys {
		out[i] = toTensor(p[k])
	}
	return out
}

// flowStep runs one flow step and returns its outputs as float64 and the step's samples x
// (the caller finalizes them).
func (t *Trainer) flowStep(ctx context.Context, in stepInputs, lambda, lr float64) (flowOut[float64], *tensors.Tensor, error) {
	args, err := t.flowArgs(ctx, in, lambda, lr)
	if err != nil {
		return flowOut[float64]{}, nil, err
	}
	out, err := t.flowEx.Exec(args...)
	if err != nil {
		return flowOut[float64]{}, nil, err
	}
	vals, err := scalars(out[1:], nil)
	if err != nil {
		out[0].FinalizeAll()
		return flowOut[float64]{}, nil, err
	}
	return nameFlowOut(vals, t.needsHost()), out[0], nil
}

// jointStep runs one step of the joint phase (jointStepGraph) with learning rates flowLR and
// dmLR, and returns both steps' outputs as float64.
func (t *Trainer) jointStep(ctx context.Context, in stepInputs, lambda, flowLR, dmLR float64) (flowOut[float64], diffOut[float64], error) {
	args, err := t.flowArgs(ctx, in, lambda, flowLR)
	if err != nil {
		return flowOut[float64]{}, diffOut[float64]{}, err
	}
	vals, err := scalars(t.jointEx.Exec(append(args, float32(dmLR))...))
	if err != nil {
		return flowOut[float64]{}, diffOut[float64]{}, err
	}
	fo := nameFlowOut(vals[:len(vals)-2], t.needsHost())
	return fo, nameDiffOut(vals[len(vals)-2:]), nil
}

// diffusionStep runs one diffusion step on the samples x ([0,1] intensities) and returns its
// outputs as float64.
func (t *Trainer) diffusionStep(in stepInputs, x *tensors.Tensor, lr float64) (diffOut[float64], error) {
	out, err := scalars(t.dmEx.Exec(t.diffusionArgs(in, x, lr)...))
	if err != nil {
		return diffOut[float64]{}, err
	}
	return nameDiffOut(out), nil
}

// diffusionArgs are the diffusion step's inputs (diffIn, flattened).
func (t *Trainer) diffusionArgs(in stepInputs, x *tensors.Tensor, lr float64) []any {
	args := diffIn[any]{X: x, Eps: toTensor(in.eps),
		TIdx: tensors.FromValue(in.tIdx), SqrtAbar: tensors.FromValue(in.sa), Sqrt1mAbar: tensors.FromValue(in.s1m),
		LR: float32(lr)}
	return args.flat()
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

// checkFinite returns an errNonFinite naming every slot (see step_io.go) whose value is NaN or
// infinite.
func checkFinite(slots []*float64, names []string) error {
	var bad []string
	for i, v := range slots {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			bad = append(bad, fmt.Sprintf("%s=%v", names[i], *v))
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
	// The EMA shadows (and their update counter) of a reset model would keep averaging the
	// old weights into the new model's; deleted, the next update starts them from the new weights.
	if err := t.ctx.InAbsPath("/" + diffusion.EMAScope + scope).DeleteVariablesInScope(); err != nil {
		return err
	}
	t.jointEx, t.flowEx, t.dmEx, t.genEx = nil, nil, nil, nil
	return nil
}
