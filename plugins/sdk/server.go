package sdk

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
	"github.com/flowdiff/flowdiff-go/registry"
)

// server implements protocol.Server over a plugin's registry entries.
type server struct {
	desc    protocol.Description
	entries map[string]registry.Entry

	mu    sync.Mutex
	next  uint64
	parts map[uint64]any
}

// NewServer returns the protocol.Server that Serve serves for p; sdktest uses it to serve p
// from a test binary. It builds each noise model and metric once with its example parameters
// to describe it (moments, direction), at start-up, before any host call exists.
func NewServer(p Plugin) (protocol.Server, error) {
	ctx := context.Background()
	s := &server{desc: protocol.Description{Name: p.Name, Version: p.Version}, entries: map[string]registry.Entry{},
		parts: map[uint64]any{}}
	for _, e := range p.Parts {
		if _, dup := s.entries[e.ID]; dup {
			return nil, fmt.Errorf("part %q is declared twice", e.ID)
		}
		info, err := describe(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("part %q: %w", e.ID, err)
		}
		s.entries[e.ID] = e
		s.desc.Parts = append(s.desc.Parts, info)
	}
	return s, nil
}

// describe builds the wire description of e; noise models and metrics are built once with
// their example (or default) parameters to learn whether they state moments and which
// direction is better.
func describe(ctx context.Context, e registry.Entry) (protocol.PartInfo, error) {
	info := protocol.PartInfo{ID: e.ID, Kind: string(e.Kind), Summary: e.Summary, Linear: e.Linear, Example: e.Example}
	if e.New == nil {
		return info, fmt.Errorf("no New function")
	}
	if e.Config != nil {
		docs, err := ParamDocs(e.Config())
		if err != nil {
			return info, err
		}
		info.Params = docs
	}
	if e.Kind != registry.KindNoise && e.Kind != registry.KindMetric {
		return info, nil
	}
	cfg, err := e.ExampleConfig()
	if err != nil {
		return info, err
	}
	v, err := e.New(ctx, cfg)
	if err != nil {
		return info, fmt.Errorf("build with the example parameters (needed to describe a %s): %w", e.Kind, err)
	}
	switch e.Kind {
	case registry.KindNoise:
		_, info.HasMoments = v.(part.NoiseMoments)
	case registry.KindMetric:
		m, ok := v.(part.Metric)
		if !ok {
			return info, fmt.Errorf("registered as a metric, but %T is not a part.Metric", v)
		}
		info.HigherIsBetter = m.HigherIsBetter()
	}
	return info, nil
}

func (s *server) Describe(context.Context) (protocol.Description, error) { return s.desc, nil }

// Configure decodes the JSON parameters strictly into the part's config and builds it.
func (s *server) Configure(ctx context.Context, id string, configJSON []byte) (uint64, error) {
	e, ok := s.entries[id]
	if !ok {
		return 0, protocol.Errorf("this plugin provides no part %q (it provides %s)", id, strings.Join(s.ids(), ", "))
	}
	var cfg any
	if e.Config != nil {
		cfg = e.Config()
		var node *yaml.Node
		if len(configJSON) > 0 {
			var doc yaml.Node
			if err := yaml.Unmarshal(configJSON, &doc); err != nil {
				return 0, protocol.Errorf("%s: parameters are not valid JSON: %v", id, err)
			}
			if len(doc.Content) > 0 {
				node = doc.Content[0]
			}
		}
		if errs := schema.Decode(node, cfg, ""); len(errs) > 0 {
			errs.Sort()
			for _, fe := range errs {
				fe.Line = 0 // a line of the JSON the host wrote would mislead
			}
			return 0, protocol.UserError{Err: errs}
		}
	} else if len(configJSON) > 0 && string(configJSON) != "{}" && string(configJSON) != "null" {
		return 0, protocol.Errorf("%s takes no parameters", id)
	}
	v, err := e.New(ctx, cfg)
	if err != nil {
		return 0, protocol.UserError{Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.parts[s.next] = v
	return s.next, nil
}

func (s *server) ids() []string {
	var ids []string
	for id := range s.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Release forgets handle h and closes its part when the part is an io.Closer (a model file,
// a GPU context, a temporary folder). Releasing an unknown handle is not an error: the host
// may release after a restart it could not see.
func (s *server) Release(_ context.Context, h uint64) error {
	s.mu.Lock()
	v, ok := s.parts[h]
	delete(s.parts, h)
	s.mu.Unlock()
	if c, isCloser := v.(io.Closer); ok && isCloser {
		if err := c.Close(); err != nil {
			return protocol.Errorf("release: %v", err)
		}
	}
	return nil
}

// part returns the value behind handle h as a T.
func partOf[T any](s *server, h uint64, kind string) (T, error) {
	s.mu.Lock()
	v, ok := s.parts[h]
	s.mu.Unlock()
	var zero T
	if !ok {
		return zero, protocol.Errorf("unknown handle %d: configure the part first", h)
	}
	t, ok := v.(T)
	if !ok {
		return zero, protocol.Errorf("handle %d is a %T, not a %s", h, v, kind)
	}
	return t, nil
}

func seeded(seed protocol.Seed) *rand.Rand { return rand.New(rand.NewPCG(seed[0], seed[1])) }

func (s *server) OutShape(ctx context.Context, h uint64, in batch.Shape) (batch.Shape, error) {
	op, err := partOf[part.Operator](s, h, "operator")
	if err != nil {
		return batch.Shape{}, err
	}
	out, err := op.OutShape(ctx, in)
	return out, userErr(err)
}

func (s *server) SampleParams(ctx context.Context, h uint64, in batch.Shape, seed protocol.Seed) (part.Params, error) {
	op, err := partOf[part.Operator](s, h, "operator")
	if err != nil {
		return nil, err
	}
	p, err := op.SampleParams(ctx, seeded(seed), in)
	return p, userErr(err)
}

func (s *server) Apply(ctx context.Context, h uint64, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	op, err := partOf[part.Operator](s, h, "operator")
	if err != nil {
		return nil, err
	}
	return op.Apply(ctx, x, p)
}

func (s *server) VJP(ctx context.Context, h uint64, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	op, err := partOf[part.Operator](s, h, "operator")
	if err != nil {
		return nil, err
	}
	return op.VJP(ctx, x, v, p)
}

func (s *server) NoiseSample(ctx context.Context, h uint64, ax *batch.Batch, seed protocol.Seed) (*batch.Batch, error) {
	nm, err := partOf[part.NoiseModel](s, h, "noise model")
	if err != nil {
		return nil, err
	}
	return nm.Sample(ctx, seeded(seed), ax)
}

func (s *server) NLL(ctx context.Context, h uint64, y, ax *batch.Batch) ([]float64, error) {
	nm, err := partOf[part.NoiseModel](s, h, "noise model")
	if err != nil {
		return nil, err
	}
	return nm.NLL(ctx, y, ax)
}

func (s *server) NLLGrad(ctx context.Context, h uint64, y, ax *batch.Batch) (*batch.Batch, error) {
	nm, err := partOf[part.NoiseModel](s, h, "noise model")
	if err != nil {
		return nil, err
	}
	return nm.NLLGrad(ctx, y, ax)
}

func (s *server) Moments(ctx context.Context, h uint64, ax *batch.Batch) (*batch.Batch, *batch.Batch, error) {
	nm, err := partOf[part.NoiseMoments](s, h, "noise model with moments")
	if err != nil {
		return nil, nil, err
	}
	return nm.Moments(ctx, ax)
}

func (s *server) Energy(ctx context.Context, h uint64, x *batch.Batch) ([]float64, *batch.Batch, error) {
	p, err := partOf[part.Prior](s, h, "prior")
	if err != nil {
		return nil, nil, err
	}
	return p.Energy(ctx, x)
}

func (s *server) Compute(ctx context.Context, h uint64, ref, img *batch.Batch) ([]float64, error) {
	m, err := partOf[part.Metric](s, h, "metric")
	if err != nil {
		return nil, err
	}
	return m.Compute(ctx, ref, img)
}

// userErr marks shape and parameter errors as the caller's.
func userErr(err error) error {
	if err == nil {
		return nil
	}
	return protocol.UserError{Err: err}
}

var _ protocol.Server = (*server)(nil)
