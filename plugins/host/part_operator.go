package host

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Operator is a plugin's forward operator: it implements part.Operator and
// part.LinearOperator by calls into the plugin process.
type Operator struct {
	base
	linear bool
	mu     sync.Mutex
	shapes map[batch.Shape]batch.Shape // OutShape answers, per input shape
}

// IsLinear implements part.LinearOperator, as the plugin describes the part.
func (o *Operator) IsLinear() bool { return o.linear }

// OutShape implements part.Operator (asked once per input shape, then cached).
func (o *Operator) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	o.mu.Lock()
	out, ok := o.shapes[in]
	o.mu.Unlock()
	if ok {
		return out, nil
	}
	err := o.do(ctx, "OutShape", func(ctx context.Context, rpc *protocol.Client) (err error) {
		out, err = rpc.OutShape(ctx, o.handle, in)
		return err
	})
	if err != nil {
		return out, err
	}
	o.mu.Lock()
	o.shapes[in] = out
	o.mu.Unlock()
	return out, nil
}

// SampleParams implements part.Operator: two words drawn from rng seed the plugin's
// stream, so the parameters are deterministic given rng. Each must have n samples.
func (o *Operator) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	var p part.Params
	seed := [2]uint64{rng.Uint64(), rng.Uint64()}
	err := o.do(ctx, "SampleParams", func(ctx context.Context, rpc *protocol.Client) (err error) {
		p, err = rpc.SampleParams(ctx, o.handle, in, seed)
		return err
	})
	if err != nil {
		return nil, err
	}
	for k, v := range p {
		if v.N != in.N {
			return nil, o.bad("SampleParams", "parameter %q has %d samples, want %d", k, v.N, in.N)
		}
		if err := v.CheckFinite(); err != nil {
			return nil, o.bad("SampleParams", "parameter %q: %v", k, err)
		}
	}
	return p, nil
}

// Apply implements part.Operator.
func (o *Operator) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	want, err := o.OutShape(ctx, x.Shape)
	if err != nil {
		return nil, err
	}
	var y *batch.Batch
	err = o.do(ctx, "Apply", func(ctx context.Context, rpc *protocol.Client) (err error) {
		y, err = rpc.Apply(ctx, o.handle, x, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return y, o.checkTensor("Apply", y, want)
}

// VJP implements part.Operator.
func (o *Operator) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	var g *batch.Batch
	err := o.do(ctx, "VJP", func(ctx context.Context, rpc *protocol.Client) (err error) {
		g, err = rpc.VJP(ctx, o.handle, x, v, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, o.checkTensor("VJP", g, x.Shape)
}

var (
	_ part.Operator       = (*Operator)(nil)
	_ part.LinearOperator = (*Operator)(nil)
	_ io.Closer           = (*Operator)(nil)
)
