package conformance

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

var (
	goOnce    sync.Once
	goBackend backends.Backend
	goErr     error
)

// backendFor returns opt.Backend, or the process-wide "go" backend started on first use.
func backendFor(opt Options) (backends.Backend, error) {
	if opt.Backend != nil {
		return opt.Backend, nil
	}
	goOnce.Do(func() { goBackend, goErr = backends.NewWithConfig("go") })
	return goBackend, goErr
}

// maxRel returns max|a-b| / max|b| (0 when both are zero).
func maxRel(a, b *batch.Batch) float64 {
	if a.Shape != b.Shape {
		return math.Inf(1)
	}
	d, m := 0.0, 0.0
	for i := range a.Data {
		d = math.Max(d, math.Abs(float64(a.Data[i])-float64(b.Data[i])))
		m = math.Max(m, math.Abs(float64(b.Data[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// checkGraphOperator compares the in-graph Apply and gradient (via operators.GraphRunner) with
// the plain Apply (y) and VJP (g).
func checkGraphOperator(ctx context.Context, r *Report, op part.Operator, opt Options, p part.Params, x, v, y, g *batch.Batch) {
	if !operators.HasGraph(op) {
		r.skip("graph apply", "no in-graph form")
		return
	}
	b, err := backendFor(opt)
	if err != nil {
		r.fail("graph apply", "start backend: %v", err)
		return
	}
	run, err := operators.NewGraphRunner(b, op)
	if err != nil {
		r.fail("graph apply", "%v", err)
		return
	}
	gy, err := run.Apply(ctx, x, p)
	if err != nil {
		r.fail("graph apply", "%v", err)
		return
	}
	r.measure("graph apply", maxRel(gy, y), TolGraph, false,
		fmt.Sprintf("max|ApplyGraph - Apply| / max|Apply| on %s", b.Name()))
	gg, err := run.VJP(ctx, x, v, p)
	if err != nil {
		r.fail("graph gradient", "%v", err)
		return
	}
	r.measure("graph gradient", maxRel(gg, g), TolGraph, false,
		"max|graph.Gradient of <ApplyGraph(x),v> - VJP| / max|VJP|")
}

// checkGraphNoise compares NLLGraph and its gradient in ax with NLL and NLLGrad.
func checkGraphNoise(r *Report, nm part.NoiseModel, opt Options, y, ax *batch.Batch, nll []float64, grad *batch.Batch) {
	gn, ok := nm.(operators.GraphNoise)
	if !ok {
		r.skip("graph nll", "no in-graph form")
		return
	}
	b, err := backendFor(opt)
	if err != nil {
		r.fail("graph nll", "start backend: %v", err)
		return
	}
	var gotNLL []float32
	var gotGrad *batch.Batch
	err = func() (err error) {
		defer func() {
			if rec := recover(); rec != nil {
				err = fmt.Errorf("%v", rec)
			}
		}()
		e, err := graph.NewExec(b, func(y, ax *graph.Node) (*graph.Node, *graph.Node) {
			l := gn.NLLGraph(y, ax)
			return l, graph.Gradient(graph.ReduceAllSum(l), ax)[0]
		})
		if err != nil {
			return err
		}
		defer e.Finalize()
		out, err := e.Exec(operators.ToTensor(y), operators.ToTensor(ax))
		if err != nil {
			return err
		}
		if gotNLL, err = tensors.CopyFlatData[float32](out[0]); err != nil {
			return err
		}
		gotGrad, err = operators.FromTensor(out[1])
		return err
	}()
	if err != nil {
		r.fail("graph nll", "in-graph NLL: %v", err)
		return
	}
	if len(gotNLL) != len(nll) {
		r.fail("graph nll", "NLLGraph gave %d values, NLL %d", len(gotNLL), len(nll))
		return
	}
	d, m := 0.0, 0.0
	for i, v := range nll {
		d = math.Max(d, math.Abs(float64(gotNLL[i])-v))
		m = math.Max(m, math.Abs(v))
	}
	r.measure("graph nll", d/math.Max(m, 1e-30), TolGraph, false,
		fmt.Sprintf("max|NLLGraph - NLL| / max|NLL| on %s", b.Name()))
	r.measure("graph nll gradient", maxRel(gotGrad, grad), TolGraph, false,
		"max|graph.Gradient of ΣNLLGraph - NLLGrad| / max|NLLGrad|")
}
