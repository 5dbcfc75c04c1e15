package host

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
	"github.com/flowdiff/flowdiff-go/registry"
)

// entry is the registry entry of one part of p: its config type comes from the manifest's
// parameter docs, and New configures the part in the plugin's process (starting it).
func entry(p *Plugin, part Part) (registry.Entry, error) {
	e := registry.Entry{ID: part.ID, Kind: registry.Kind(part.Kind), Summary: part.Summary, Linear: part.Linear,
		Origin: p.Origin(), Example: part.Example}
	var typ reflect.Type
	if len(part.Params) > 0 {
		t, err := configType(part.Params)
		if err != nil {
			return e, fmt.Errorf("%s: %w", part.ID, err)
		}
		typ = t
		e.Config = func() any { return newConfig(typ) }
	}
	e.New = func(ctx context.Context, cfg any) (any, error) {
		return p.Build(ctx, part, cfg)
	}
	return e, nil
}

// newConfig returns a pointer to a new config of type typ.
func newConfig(typ reflect.Type) any { return reflect.New(typ).Interface() }

// Build configures part with cfg (a config from the part's registry entry, or nil for its
// defaults) in the plugin's process and returns the Go value of its kind: *Operator,
// *Noise or *NoiseWithMoments, *Prior, *Metric.
func (p *Plugin) Build(ctx context.Context, part Part, cfg any) (any, error) {
	js := []byte("{}")
	if cfg != nil {
		var err error
		if js, err = json.Marshal(cfg); err != nil {
			return nil, fmt.Errorf("%s: encode parameters: %w", part.ID, err)
		}
	}
	rpc, err := p.Start(ctx)
	if err != nil {
		return nil, err
	}
	var h uint64
	err = p.call(ctx, "Configure "+part.ID, func(ctx context.Context) (err error) {
		h, err = rpc.Configure(ctx, part.ID, js)
		return err
	})
	if err != nil {
		return nil, err
	}
	b := base{p: p, id: part.ID, handle: h}
	switch registry.Kind(part.Kind) {
	case registry.KindOperator:
		return &Operator{base: b, linear: part.Linear, shapes: map[batch.Shape]batch.Shape{}}, nil
	case registry.KindNoise:
		if part.HasMoments {
			return &NoiseWithMoments{Noise{base: b}}, nil
		}
		return &Noise{base: b}, nil
	case registry.KindPrior:
		return &Prior{base: b}, nil
	case registry.KindMetric:
		return &Metric{base: b, higher: part.HigherIsBetter}, nil
	}
	return nil, fmt.Errorf("%s: unknown kind %q", part.ID, part.Kind)
}

// base is what every part value holds: its plugin, ID and handle.
type base struct {
	p      *Plugin
	id     string
	handle uint64
}

// do runs one call of method on the part's plugin.
func (b *base) do(ctx context.Context, method string, f func(ctx context.Context, rpc *protocol.Client) error) error {
	rpc, err := b.p.Start(ctx)
	if err != nil {
		return err
	}
	return b.p.call(ctx, method+" "+b.id, func(ctx context.Context) error { return f(ctx, rpc) })
}

// bad reports an answer that breaks the contract, quoting the plugin's stderr once it has
// fallen quiet (see errorf).
func (b *base) bad(method, format string, args ...any) error {
	b.p.stderr.settle(stderrQuiet, stderrMaxWait)
	return &Error{Plugin: b.p.Name(), Dir: b.p.Dir, Op: method + " " + b.id, Err: fmt.Errorf("invalid answer: "+format, args...),
		Stderr: b.p.Stderr()}
}

// checkTensor checks an answer's shape and finiteness.
func (b *base) checkTensor(method string, t *batch.Batch, want batch.Shape) error {
	if t.Shape != want {
		return b.bad(method, "shape %s, want %s", t.Shape, want)
	}
	if err := t.CheckFinite(); err != nil {
		return b.bad(method, "%v", err)
	}
	return nil
}

func (b *base) checkValues(method string, v []float64, n int, allowInf bool) error {
	if len(v) != n {
		return b.bad(method, "%d values for %d samples", len(v), n)
	}
	for i, x := range v {
		if math.IsNaN(x) || (!allowInf && math.IsInf(x, 0)) {
			return b.bad(method, "value %v for sample %d", x, i)
		}
	}
	return nil
}

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
)
