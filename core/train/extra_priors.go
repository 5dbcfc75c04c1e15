package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/part"
	_ "github.com/flowdiff/flowdiff-go/core/prior" // registers the built-in priors (prior.tv, prior.l1) that train.priors names
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// PriorWeightKey is the key of a train.priors item that holds the prior's weight; every other
// key but "op" is a parameter of the prior.
const PriorWeightKey = "weight"

// DefaultPriorWeight is the weight of an extra prior whose item has no weight key.
const DefaultPriorWeight = 1.0

// PriorSpec is one item of train.priors: a registered part of kind prior (prior.tv, prior.l1,
// a plugin's prior), its parameters, and the weight w of its energy in the flow loss (see the
// package doc):
//
//	priors:
//	  - op: prior.tv
//	    epsilon: 0.01
//	    weight: 0.05
type PriorSpec struct {
	registry.Spec
	// Weight is w >= 0, multiplying the per-pixel batch mean of the prior's energy.
	Weight float64
}

// SchemaType names the value in generated references.
func (*PriorSpec) SchemaType() string {
	return "a prior's registry ID (kind prior) with its parameters and `weight` (default 1, >= 0), e.g. `{op: prior.tv, weight: 0.05}`"
}

// DecodeYAML implements schema.Decoder: it takes the weight out of the item, decodes the rest
// as a registry.Spec and checks that the ID names a prior.
func (s *PriorSpec) DecodeYAML(node *yaml.Node, path string) schema.Errors {
	s.Weight = DefaultPriorWeight
	rest := node
	if node != nil && node.Kind == yaml.MappingNode {
		rest = &yaml.Node{Kind: yaml.MappingNode, Line: node.Line, Column: node.Column}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Value != PriorWeightKey {
				rest.Content = append(rest.Content, k, v)
				continue
			}
			wp := schema.Join(path, PriorWeightKey)
			if errs := schema.DecodeScalar(v, &s.Weight, wp); len(errs) > 0 {
				return errs
			}
			if !(s.Weight >= 0) || math.IsInf(s.Weight, 0) {
				return schema.Errors{{Path: wp, Line: v.Line, Msg: fmt.Sprintf("must be a finite number >= 0, got %v", s.Weight)}}
			}
		}
	}
	if errs := s.Spec.DecodeYAML(rest, path); len(errs) > 0 {
		return errs
	}
	if s.Entry.Kind != registry.KindPrior {
		return schema.Errors{{Path: schema.Join(path, registry.SpecKey), Line: s.Line,
			Msg: fmt.Sprintf("%q is a %s, but train.priors takes priors (`flowdiff ops list --kind prior`)", s.ID, s.Entry.Kind)}}
	}
	return nil
}

// MarshalYAML writes the item back with its weight and every default filled in.
func (s PriorSpec) MarshalYAML() (any, error) {
	out, err := s.Spec.MarshalYAML()
	if err != nil {
		return nil, err
	}
	n := out.(*yaml.Node)
	var w yaml.Node
	if err := w.Encode(s.Weight); err != nil {
		return nil, err
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: PriorWeightKey}, &w)
	return n, nil
}

// WeightedPrior is an extra prior of the flow loss with its weight.
type WeightedPrior struct {
	Name   string // for logs and errors: the registry ID, or a caller's name
	Prior  part.Prior
	Weight float64
}

// BuildPriors builds the priors of train.priors; on failure it closes those already built.
func BuildPriors(ctx context.Context, specs []PriorSpec) (_ []WeightedPrior, err error) {
	out := make([]WeightedPrior, 0, len(specs))
	defer func() {
		if err != nil {
			closePriors(out)
		}
	}()
	for i := range specs {
		v, err := specs[i].Build(ctx)
		if err != nil {
			return nil, fmt.Errorf("train.priors[%d]: %w", i, err)
		}
		p, ok := v.(part.Prior)
		if !ok {
			if c, isCloser := v.(io.Closer); isCloser {
				c.Close()
			}
			return nil, fmt.Errorf("train.priors[%d]: %s built a %T, which is not a part.Prior", i, specs[i].ID, v)
		}
		out = append(out, WeightedPrior{Name: specs[i].ID, Prior: p, Weight: specs[i].Weight})
	}
	return out, nil
}

var (
	_ schema.Decoder = (*PriorSpec)(nil)
	_ yaml.Marshaler = PriorSpec{}
)

// closePriors closes the priors that hold resources (a plugin's prior releases its handle).
func closePriors(ps []WeightedPrior) error {
	var errs []error
	for _, p := range ps {
		if c, ok := p.Prior.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Close releases the priors the trainer built from train.priors (those passed in
// Problem.Priors belong to the caller). The trainer's models stay usable.
func (t *Trainer) Close() error { return closePriors(t.built) }
