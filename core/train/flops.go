package train

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// StepFLOPs is the arithmetic of one joint step's matrix products (nn.CountProducts).
type StepFLOPs struct {
	// Joint is the compiled joint step (Trainer.jointStepGraph): what a training step computes.
	Joint nn.ProductCount
	// Flow and Diffusion are its two halves built as graphs of their own, as the reset phases
	// run them: the flow step (forward, prior and gradient in the flow's weights) and the
	// diffusion step (the U-Net's forward pass and gradient in its weights, on the flow step's
	// samples). Their sum exceeds Joint by the U-Net forward pass the joint step shares.
	Flow, Diffusion nn.ProductCount
}

// Total is the FLOPs of the whole joint step.
func (s StepFLOPs) Total() float64 { return s.Joint.FLOPs }

// CountStepFLOPs builds the graphs of one joint step with the trainer's models and batch, as
// the compiled steps are built but without compiling or running them (the models and the
// optimizer state are untouched), and counts the matrix products that their outputs, the
// losses and the updated variables, depend on. Work done outside the graphs (the host terms of
// gradient injection) is not counted. It returns an error when a product's arithmetic cannot
// be read from the graph (nn.ProductCount.Unknown), as with native convolutions on backends
// other than the portable one.
func (t *Trainer) CountStepFLOPs(ctx context.Context) (StepFLOPs, error) {
	var s StepFLOPs
	if t.needsHost() {
		if err := t.compile(); err != nil { // the injected terms need the forward-pass graph
			return s, err
		}
	}
	in := t.draw(PhaseJoint, 0)
	flowArgs, err := t.flowArgs(ctx, in, t.cfg.Lambda, t.cfg.FlowLR)
	if err != nil {
		return s, err
	}
	if s.Flow, err = t.countGraph("flow_step_flops", t.flowStepGraph, flowArgs); err != nil {
		return s, err
	}
	if s.Diffusion, err = t.countGraph("diffusion_step_flops", t.diffusionStepGraph, t.diffusionArgs(in, toTensor(in.z), t.cfg.DiffusionLR)); err != nil {
		return s, err
	}
	if s.Joint, err = t.countGraph("joint_step_flops", t.jointStepGraph, append(flowArgs, float32(t.cfg.DiffusionLR))); err != nil {
		return s, err
	}
	return s, nil
}

// countGraph builds fn on parameters shaped like args in a graph of its own and counts the
// products behind fn's outputs and the variables fn changes.
func (t *Trainer) countGraph(name string, fn func(*mlctx.Context, []*graph.Node) []*graph.Node, args []any) (c nn.ProductCount, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("count the products of %s: %v", name, r)
		}
	}()
	g := graph.NewGraph(t.be, name)
	defer g.Finalize()
	params := make([]*graph.Node, len(args))
	for i, a := range args {
		params[i] = graph.Parameter(g, fmt.Sprintf("in%d", i), argShape(a))
	}
	roots := fn(t.ctx, params)
	t.ctx.EnumerateVariables(func(v *mlctx.Variable) {
		if v.ChangedInGraph(g) {
			roots = append(roots, v.ValueGraph(g))
		}
	})
	c = nn.CountProducts(roots...)
	if c.Unknown > 0 {
		return c, fmt.Errorf("%s: %d of %d products have no recorded arithmetic (native convolutions or products not built by core/nn)",
			name, c.Unknown, c.Products)
	}
	return c, nil
}

// argShape is the shape of a step argument: a tensor's, or a float32 scalar.
func argShape(a any) shapes.Shape {
	if tt, ok := a.(*tensors.Tensor); ok {
		return tt.Shape()
	}
	return shapes.Make(dtypes.Float32)
}
