package host

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
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
	_, gen := p.running()
	b := base{p: p, id: part.ID, handle: h, gen: gen, ctx: context.WithoutCancel(ctx), release: &release{}}
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

// base is what every part value holds: its plugin, ID, handle and the process generation the
// handle belongs to.
type base struct {
	p      *Plugin
	id     string
	handle uint64
	gen    uint64
	// ctx is the context the part was built under, without its cancellation: Close releases
	// the handle even when the run that used the part was interrupted.
	ctx     context.Context
	release *release
}

// release makes Close idempotent across the copies of a part's base.
type release struct {
	once sync.Once
	err  error
}

// Close implements io.Closer: it releases the part's handle in the plugin (the protocol's
// Release), so the plugin frees what the part holds (its part's Close, where it has one). A
// plugin process that has exited, or restarted since the part was built, holds nothing of it
// and is not asked. Close waits at most the plugin's per-call timeout; a second Close does
// nothing.
func (b *base) Close() error {
	b.release.once.Do(func() {
		rpc, gen := b.p.running()
		if rpc == nil || gen != b.gen {
			return
		}
		b.release.err = b.p.call(b.ctx, "Release "+b.id, func(ctx context.Context) error {
			return rpc.Release(ctx, b.handle)
		})
	})
	return b.release.err
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
