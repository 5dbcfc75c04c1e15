package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// FlowGenerator draws restorations x = b + G(z; b) with a trained conditional flow, outside
// the trainer: for `flowdiff restore`, on observations of any size. The flow is convolutional
// (squeezes, convolutions, per-channel actnorm and mixing, average pooling to each level), so
// its weights apply to any image whose height and width are multiples of 2^levels; each new
// shape is compiled once.
type FlowGenerator struct {
	ctx   *mlctx.Context
	exec  *mlctx.Exec
	saved map[string]bool // the flow variables the checkpoint held
	Step  int             // the checkpoint's step (within its training phase)
	// Levels is the flow's number of levels: image sides must be multiples of 2^Levels.
	Levels int
	// Warnings say what loading skipped to find the checkpoint (damaged newer ones).
	Warnings []string
	checked  bool
}

// NewFlowGenerator loads the flow's weights from the latest checkpoint of the training folder
// dir (the scope /flow of the trainer's context) and compiles x = b + G(z; b) with cfg, the
// flow configuration the run trained with.
func NewFlowGenerator(be backends.Backend, dir string, cfg flow.Config) (*FlowGenerator, error) {
	ck, err := LoadLatest(dir)
	if err != nil {
		return nil, fmt.Errorf("load the flow from %s: %w (train the models first)", dir, err)
	}
	prefix := FlowScope + "/"
	var names []string
	for name := range ck.Values {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("checkpoint in %s holds no flow weights (under %s): was the flow trained?", dir, prefix)
	}
	sort.Strings(names)
	ctx := mlctx.New().Checked(false)
	levels := cfg.Levels
	if levels == 0 {
		levels = flow.DefaultConfig().Levels
	}
	g := &FlowGenerator{ctx: ctx, saved: map[string]bool{}, Step: ck.Step, Levels: levels, Warnings: ck.Warnings}
	for _, name := range names {
		cut := strings.LastIndex(name, "/")
		ctx.InAbsPath(name[:cut]).VariableWithValue(name[cut+1:], ck.Values[name])
		g.saved[name] = true
	}
	g.exec, err = mlctx.NewExec(be, ctx, func(ctx *mlctx.Context, z, base *graph.Node) *graph.Node {
		x, _ := flow.Generate(ctx, cfg, z, base)
		return graph.Add(base, x)
	})
	if err != nil {
		return nil, fmt.Errorf("compile the flow: %w", err)
	}
	return g, nil
}

// Generate returns b + G(z; b) for z and base of one shape [N, H, W, C] (H and W multiples
// of 2^Levels). The first call checks that every flow variable the graph uses came from the
// checkpoint: a configuration other than the trained one would otherwise run on freshly
// initialized weights.
func (g *FlowGenerator) Generate(z, base *batch.Batch) (*batch.Batch, error) {
	if z.Shape != base.Shape {
		return nil, fmt.Errorf("flow: latent %s and base %s differ in shape", z.Shape, base.Shape)
	}
	out, err := g.exec.Exec(operators.ToTensor(z), operators.ToTensor(base))
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	defer out[0].FinalizeAll()
	if !g.checked {
		var fresh []string
		for v := range g.ctx.InAbsPath(FlowScope).IterVariablesInScope() {
			if !g.saved[v.ScopeAndName()] {
				fresh = append(fresh, v.ScopeAndName())
			}
		}
		if len(fresh) > 0 {
			return nil, fmt.Errorf("flow: %d variable(s) not in the checkpoint (e.g. %s): the run's train.flow configuration does not match its checkpoint", len(fresh), fresh[0])
		}
		g.checked = true
	}
	return operators.FromTensor(out[0])
}

// Finalize releases the compiled graphs.
func (g *FlowGenerator) Finalize() { g.exec.Finalize() }
