package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/flowdiff/flowdiff-go/core/schema"
	"gopkg.in/yaml.v3"
)

// SpecKey is the YAML key that names the part in a pipeline list item.
const SpecKey = "op"

// Spec is a pipeline's reference to a registered part with its parameters, written either as
// a mapping whose "op" key is the ID and whose other keys are the part's parameters:
//
//   - op: blur.gaussian
//     size: 33
//     sigma: 1.5
//
// or, to take every default, as the bare ID: `- metric.psnr`.
//
// Decoding looks the ID up in the Default registry (so plugins must be loaded first) and
// decodes the parameters strictly into the entry's config struct.
type Spec struct {
	ID     string
	Entry  Entry
	Config any // the decoded config (a pointer), nil for parts without parameters
	Line   int // line of the item in the pipeline, for later located errors
	Path   string
}

// SchemaType names the value in generated references.
func (*Spec) SchemaType() string {
	return "a registry ID, or a mapping with `op: ID` and its parameters"
}

// DecodeYAML implements schema.Decoder.
func (s *Spec) DecodeYAML(node *yaml.Node, path string) schema.Errors {
	if node == nil {
		return nil
	}
	s.Line, s.Path = node.Line, path
	var params *yaml.Node
	switch node.Kind {
	case yaml.ScalarNode:
		s.ID = node.Value
	case yaml.MappingNode:
		rest := &yaml.Node{Kind: yaml.MappingNode, Line: node.Line, Column: node.Column}
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == SpecKey {
				s.ID = node.Content[i+1].Value
				continue
			}
			rest.Content = append(rest.Content, node.Content[i], node.Content[i+1])
		}
		if s.ID == "" {
			return schema.Errors{{Path: path, Line: node.Line, Msg: fmt.Sprintf("missing %q: name a registered ID such as blur.gaussian", SpecKey)}}
		}
		params = rest
	default:
		return schema.Errors{{Path: path, Line: node.Line, Msg: "must be a registry ID or a mapping with " + SpecKey + ": ID"}}
	}
	if cur, old := Default.Current(s.ID); old {
		deprecated(s.ID, cur, path, node.Line)
		s.ID = cur // the resolved pipeline says the current name
	}
	e, err := Default.Lookup(s.ID)
	if err != nil {
		return schema.Errors{{Path: schema.Join(path, SpecKey), Line: node.Line, Msg: err.Error()}}
	}
	s.Entry = e
	if e.Config == nil {
		if params != nil && len(params.Content) > 0 {
			return schema.Errors{{Path: schema.Join(path, params.Content[0].Value), Line: params.Content[0].Line,
				Msg: fmt.Sprintf("%s takes no parameters", s.ID)}}
		}
		return nil
	}
	s.Config = e.Config()
	return schema.Decode(params, s.Config, path)
}

// MarshalYAML writes the spec back with every default filled in, for the resolved pipeline.
func (s Spec) MarshalYAML() (any, error) {
	out := &yaml.Node{Kind: yaml.MappingNode}
	out.Content = append(out.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: SpecKey},
		&yaml.Node{Kind: yaml.ScalarNode, Value: s.ID})
	if s.Config != nil {
		var params yaml.Node
		if err := params.Encode(s.Config); err != nil {
			return nil, fmt.Errorf("%s: encode parameters: %w", s.ID, err)
		}
		if params.Kind == yaml.MappingNode {
			out.Content = append(out.Content, params.Content...)
		}
	}
	return out, nil
}

// Build constructs the part from its decoded config.
func (s *Spec) Build(ctx context.Context) (any, error) {
	if s.Entry.New == nil {
		return nil, fmt.Errorf("%s: spec was not decoded", s.ID)
	}
	v, err := s.Entry.New(ctx, s.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.ID, err)
	}
	return v, nil
}

var _ schema.Decoder = (*Spec)(nil)

// deprecationLog receives the warnings of pipelines that name deprecated IDs; SetLogger sets
// it (the CLI passes its logger), and it discards them until then.
var deprecationLog atomic.Pointer[slog.Logger]

// SetLogger sets the logger that warns about deprecated IDs met while decoding pipelines.
func SetLogger(l *slog.Logger) { deprecationLog.Store(l) }

func deprecated(old, cur, path string, line int) {
	if l := deprecationLog.Load(); l != nil {
		l.Warn(fmt.Sprintf("%q is a deprecated ID, accepted for one more version: write %q", old, cur),
			"field", schema.Join(path, SpecKey), "line", line)
	}
}
