package train

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// Gradient injection (see the package doc). A term of the flow loss that the graph cannot
// differentiate (an operator or noise model without in-graph form, an extra prior) is
// evaluated on the host at the step's own sample x = b + G(z; b), produced by a forward-only
// graph with the same z; its value enters the step graph as a constant and its gradient g in
// x through the surrogate sum(stopgrad(g) * x), whose gradient in the flow's weights is
// J_G^T g, the chain rule through the flow.

// hostTerms are the injected parts of one flow step's loss, per pixel and batch-averaged like
// the graph's terms (scale 1/(N*D)).
type hostTerms struct {
	grad  *batch.Batch // d(injected loss)/dx, shaped like x
	nll   float64      // the data term, when injected (else 0)
	extra float64      // Σ_k w_k mean_n E_k(x_n) / D over the extra priors
}

// needsHost reports whether the flow step takes injected terms.
func (t *Trainer) needsHost() bool { return t.inject || len(t.priors) > 0 }

// numParamInputs is the number of operator parameter inputs of the flow step (none when the
// data term is injected: the host applies the operator).
func (t *Trainer) numParamInputs() int {
	if t.inject {
		return 0
	}
	return len(t.keys)
}

// injected returns s - stopgrad(s) with s = sum(stopgrad(g) * x): exactly 0 in value, and g as
// its gradient in x.
func injected(x, g *graph.Node) *graph.Node {
	s := graph.ReduceAllSum(graph.Mul(graph.StopGradient(g), x))
	return graph.Sub(s, graph.StopGradient(s))
}

// generate runs the forward-only graph x = b + G(z; b) with the step's z.
func (t *Trainer) generate(z, base *batch.Batch) (*batch.Batch, error) {
	out, err := t.genEx.Exec(toTensor(z), toTensor(base))
	if err != nil {
		return nil, fmt.Errorf("generate the step's samples: %w", err)
	}
	defer out[0].FinalizeAll()
	return operators.FromTensor(out[0])
}

// hostTerms computes the injected terms at the step's samples x:
//
//	data term (when injected):  nll_n = NLL(y_n | A(x_n)),  g += J_A(x)^T dNLL/d(Ax) / (N*D)
//	extra prior k:              E_k(x_n),                   g += w_k dE_k/dx / (N*D)
func (t *Trainer) hostTerms(ctx context.Context, in stepInputs) (hostTerms, error) {
	var h hostTerms
	x, err := t.generate(in.z, in.base)
	if err != nil {
		return h, err
	}
	scale := 1 / (float64(x.N) * float64(t.imgSize))
	g := make([]float64, x.Size())
	add := func(what string, v *batch.Batch, w float64) error {
		if v == nil || v.Shape != x.Shape {
			return fmt.Errorf("%s: gradient of shape %v for x of %s", what, shapeOf(v), x.Shape)
		}
		for i, e := range v.Data {
			g[i] += w * scale * float64(e)
		}
		return nil
	}
	if t.inject {
		nll, grad, err := t.dataTerm(ctx, x, in)
		if err != nil {
			return h, err
		}
		if err := add("data term", grad, 1); err != nil {
			return h, err
		}
		h.nll = sum(nll) * scale
	}
	for _, p := range t.priors {
		e, grad, err := p.Prior.Energy(ctx, x)
		if err != nil {
			return h, fmt.Errorf("prior %s: %w", p.Name, err)
		}
		if len(e) != x.N {
			return h, fmt.Errorf("prior %s: %d energies for a batch of %d", p.Name, len(e), x.N)
		}
		if err := add("prior "+p.Name, grad, p.Weight); err != nil {
			return h, err
		}
		h.extra += p.Weight * sum(e) * scale
	}
	h.grad = batch.New(x.N, x.H, x.W, x.C)
	for i, v := range g {
		h.grad.Data[i] = float32(v)
	}
	return h, nil
}

// dataTerm returns the per-sample NLL(y | A(x)) and its gradient J_A(x)^T dNLL/d(Ax) in x.
func (t *Trainer) dataTerm(ctx context.Context, x *batch.Batch, in stepInputs) ([]float64, *batch.Batch, error) {
	op, noise := t.prob.Op, t.prob.Noise
	ax, err := op.Apply(ctx, x, in.params)
	if err != nil {
		return nil, nil, fmt.Errorf("forward operator %s: %w", t.prob.opName(), err)
	}
	if ax.Shape != in.y.Shape {
		return nil, nil, fmt.Errorf("forward operator %s: A(x) has shape %s, the observations %s", t.prob.opName(), ax.Shape, in.y.Shape)
	}
	nll, err := noise.NLL(ctx, in.y, ax)
	if err != nil {
		return nil, nil, fmt.Errorf("noise model %s NLL: %w", t.prob.noiseName(), err)
	}
	if len(nll) != x.N {
		return nil, nil, fmt.Errorf("noise model %s NLL: %d values for a batch of %d", t.prob.noiseName(), len(nll), x.N)
	}
	v, err := noise.NLLGrad(ctx, in.y, ax)
	if err != nil {
		return nil, nil, fmt.Errorf("noise model %s NLL gradient: %w", t.prob.noiseName(), err)
	}
	g, err := op.VJP(ctx, x, v, in.params)
	if err != nil {
		return nil, nil, fmt.Errorf("forward operator %s VJP: %w", t.prob.opName(), err)
	}
	return nll, g, nil
}

// flowArgs returns the flow step's inputs (flowIn, flattened for the compiled step), computing
// the injected terms when there are any.
func (t *Trainer) flowArgs(ctx context.Context, in stepInputs, lambda, lr float64) ([]any, error) {
	args := flowIn[any]{Z: toTensor(in.z), Y: toTensor(in.y), Base: toTensor(in.base), Eps: toTensor(in.eps),
		TIdx: tensors.FromValue(in.tIdx), SqrtAbar: tensors.FromValue(in.sa), Sqrt1mAbar: tensors.FromValue(in.s1m),
		Weight: tensors.FromValue(in.weight), Lambda: float32(lambda), LR: float32(lr)}
	if !t.inject {
		args.Params = t.paramTensors(in.params)
	}
	if t.needsHost() {
		h, err := t.hostTerms(ctx, in)
		if err != nil {
			return nil, err
		}
		args.Host, args.HostGrad, args.HostNLL, args.HostExtra = true, toTensor(h.grad), float32(h.nll), float32(h.extra)
	}
	return args.flat(), nil
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func shapeOf(b *batch.Batch) any {
	if b == nil {
		return "nil"
	}
	return b.Shape
}
