package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Adam is an in-graph Adam optimizer (Kingma & Ba 2015) over the trainable variables of one
// scope, so that the flow and the diffusion model, which share one context, train with their
// own optimizer state and learning rate while the other model stays frozen. Gradients are
// clipped by their global norm first (Pascanu et al. 2013).
//
// Its state (moments and step count) lives in context variables under "/optim/<name>", so it is
// saved and restored with checkpoints like the weights.
type Adam struct {
	Name     string  // optimizer name, e.g. "flow"
	Scope    string  // absolute scope of the variables it trains, e.g. "/flow"
	Beta1    float64 // default 0.9
	Beta2    float64 // default 0.999
	Epsilon  float64 // default 1e-8
	ClipNorm float64 // global gradient-norm clip; 0 disables
}

// Trainable returns the trainable variables under a.Scope that graph g uses, sorted by name.
func (a Adam) Trainable(ctx *context.Context, g *graph.Graph) []*context.Variable {
	var vars []*context.Variable
	ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Trainable && inScope(v.Scope(), a.Scope) && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	})
	return vars
}

func inScope(scope, prefix string) bool {
	return scope == prefix || strings.HasPrefix(scope, prefix+context.ScopeSeparator)
}

// Step adds to the graph of loss the update of every trainable variable under a.Scope, with
// learning rate lr (a scalar node, so warm-up and rollbacks do not recompile). It returns the
// global gradient norm before clipping. It panics when the scope has no trainable variable
// in the graph (a programmer error).
func (a Adam) Step(ctx *context.Context, loss, lr *graph.Node) (gradNorm *graph.Node) {
	return StepAll(ctx, loss, []Adam{a}, []*graph.Node{lr})[0]
}

// StepAll adds the updates of several optimizers of disjoint scopes that minimize the same loss
// (AmbientFlow's posterior and prior), opts[i] with learning rate lrs[i], and returns each one's
// gradient norm before clipping. Every gradient comes from one backward pass: calling Step once
// per optimizer would build the backward pass once per call (GoMLX does not merge equal
// subgraphs), and the parts the scopes share, such as the prior's activations that the
// posterior's gradient also flows through, would run twice per step.
func StepAll(ctx *context.Context, loss *graph.Node, opts []Adam, lrs []*graph.Node) (gradNorms []*graph.Node) {
	if len(opts) != len(lrs) {
		panic(fmt.Sprintf("train.StepAll: %d optimizers but %d learning rates", len(opts), len(lrs)))
	}
	g := loss.Graph()
	vars := make([][]*context.Variable, len(opts))
	var nodes []*graph.Node
	for i, a := range opts {
		vars[i] = a.Trainable(ctx, g)
		if len(vars[i]) == 0 {
			panic(fmt.Sprintf("train.Adam %q: no trainable variables under %q in this graph", a.Name, a.Scope))
		}
		for _, v := range vars[i] {
			nodes = append(nodes, v.ValueGraph(g))
		}
	}
	grads := graph.Gradient(loss, nodes...)
	gradNorms = make([]*graph.Node, len(opts))
	off := 0
	for i, a := range opts {
		n := len(vars[i])
		gradNorms[i] = a.apply(ctx, vars[i], nodes[off:off+n], grads[off:off+n], lrs[i])
		off += n
	}
	return gradNorms
}

// apply adds the clipped Adam update of vars (whose values in the graph are nodes) from their
// gradients grads, and returns the global gradient norm before clipping.
func (a Adam) apply(ctx *context.Context, vars []*context.Variable, nodes, grads []*graph.Node, lr *graph.Node) (gradNorm *graph.Node) {
	g := lr.Graph()
	dtype := grads[0].DType()

	// Global norm and clipping factor min(1, clip/norm).
	sq := graph.ScalarZero(g, dtype)
	for _, gr := range grads {
		sq = graph.Add(sq, graph.ReduceAllSum(graph.Square(gr)))
	}
	gradNorm = graph.Sqrt(sq)
	scale := graph.ScalarOne(g, dtype)
	if a.ClipNorm > 0 {
		scale = graph.Min(scale, graph.Div(graph.Scalar(g, dtype, a.ClipNorm), graph.Max(gradNorm, graph.Scalar(g, dtype, 1e-12))))
	}

	b1, b2, eps := orDefault(a.Beta1, 0.9), orDefault(a.Beta2, 0.999), orDefault(a.Epsilon, 1e-8)
	state := ctx.InAbsPath("/optim/" + a.Name).Checked(false).WithInitializer(initializers.Zero)
	stepVar := state.VariableWithValue("step", float32(0)).SetTrainable(false)
	step := graph.AddScalar(stepVar.ValueGraph(g), 1)
	stepVar.SetValueGraph(step)
	// Bias corrections 1 - beta^t.
	c1 := graph.OneMinus(graph.Pow(graph.Scalar(g, dtype, b1), step))
	c2 := graph.OneMinus(graph.Pow(graph.Scalar(g, dtype, b2), step))
	for i, v := range vars {
		grad := graph.Mul(grads[i], scale)
		key := strings.ReplaceAll(strings.TrimPrefix(v.ScopeAndName(), "/"), "/", "~")
		m1Var := state.VariableWithShape("m1~"+key, v.Shape()).SetTrainable(false)
		m2Var := state.VariableWithShape("m2~"+key, v.Shape()).SetTrainable(false)
		m1 := graph.Add(graph.MulScalar(m1Var.ValueGraph(g), b1), graph.MulScalar(grad, 1-b1))
		m2 := graph.Add(graph.MulScalar(m2Var.ValueGraph(g), b2), graph.MulScalar(graph.Square(grad), 1-b2))
		m1Var.SetValueGraph(m1)
		m2Var.SetValueGraph(m2)
		update := graph.Div(graph.Div(m1, c1), graph.AddScalar(graph.Sqrt(graph.Div(m2, c2)), eps))
		v.SetValueGraph(graph.Sub(nodes[i], graph.Mul(update, lr)))
	}
	return gradNorm
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
