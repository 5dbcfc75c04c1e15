package registry

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// DefaultConfig returns a new config of e with every field at its documented default: what
// schema.Decode makes of a pipeline item that names e with no parameters. It is nil for a part
// without parameters (nil Config). The error, a sorted schema.Errors with paths under e.ID,
// lists the fields whose defaults do not pass their checks (a required file path, an empty
// list of operators): such a part needs a configuration to be built.
func (e Entry) DefaultConfig() (any, error) { return e.decodeConfig(nil, e.ID) }

// ExampleConfig returns a new config of e decoded from e.Example, the parameters that show
// typical use, or DefaultConfig when e has no Example. Conformance checks and plugin tests
// build parts from it. An Example that is not a YAML mapping is an error naming e; one that
// does not decode gives a sorted schema.Errors with paths under "<ID>.example".
func (e Entry) ExampleConfig() (any, error) {
	if e.Example == "" {
		return e.DefaultConfig()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(e.Example), &doc); err != nil {
		return nil, fmt.Errorf("%s: example parameters are not valid YAML: %w", e.ID, err)
	}
	var node *yaml.Node
	if len(doc.Content) > 0 {
		node = doc.Content[0]
	}
	return e.decodeConfig(node, e.ID+".example")
}

// decodeConfig decodes node (nil: no parameters given) into a new config of e.
func (e Entry) decodeConfig(node *yaml.Node, path string) (any, error) {
	if e.Config == nil {
		return nil, nil
	}
	cfg := e.Config()
	if err := schema.Decode(node, cfg, path).Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}
