package pipelines

// Two top-level keys let one pipeline file serve several sizes of the same experiment, read
// before the strict decoding (which never sees them):
//
//	extends: ../../flowdiff.yaml   # a base pipeline, relative to this file
//	profiles:                      # named overlays, chosen with `flowdiff run --profile NAME`
//	  gpu: {train: {steps: 8000, flow: {hidden: 64}}}
//	  toy: {data: {train: 16, test: 4}, train: {steps: 3}}
//
// Overlay rule (for both): a mapping merges key by key into the mapping below it, recursively;
// any other value (a scalar, a list such as corruption or metrics) replaces the one below
// whole. The document overlays its base; the chosen profile overlays the result. Without
// --profile the document is used as written (plus its base). A run folder's pipeline.yaml is
// the merged, resolved result, so a resumed run needs neither the base nor the profile.
// When either key is present the merged document is re-encoded before decoding, so the lines
// in error messages are those of the merged document, not of the files.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/schema"
	"gopkg.in/yaml.v3"
)

// loadErrs is a single problem without a field, as LoadError holds it.
func loadErrs(msg string) schema.Errors { return schema.Errors{{Msg: msg}} }

// maxExtends bounds a chain of bases (a cycle is an error, not a hang).
const maxExtends = 8

// LoadProfile reads a pipeline file like Load, applying its base (extends:) and the named
// profile ("" for none).
func LoadProfile(path, profile string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Errs: loadErrs(fmt.Sprintf("cannot read pipeline: %v", err))}
	}
	return ParseProfile(path, data, profile)
}

// ParseProfile is Parse with a profile: the document data (read from name) is merged onto its
// base and the named profile is merged onto the result before decoding.
func ParseProfile(name string, data []byte, profile string) (*Pipeline, error) {
	merged, err := overlayDocument(name, data, profile)
	if err != nil {
		return nil, &LoadError{File: name, Errs: loadErrs(err.Error())}
	}
	return parseMerged(name, merged)
}

// Profiles lists the profile names of a pipeline file (its own and its base's), sorted.
func Profiles(path string) ([]string, error) {
	root, err := readRoot(path, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	if ps := mappingValue(root, "profiles"); ps != nil && ps.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			names = append(names, ps.Content[i].Value)
		}
	}
	slices.Sort(names)
	return names, nil
}

// overlayDocument returns the YAML of the document data merged onto its base, with the named
// profile merged on top and the keys extends and profiles removed. A document with neither
// key and no profile asked for is returned unchanged, so its lines stay exact.
func overlayDocument(name string, data []byte, profile string) ([]byte, error) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		if profile != "" {
			return nil, fmt.Errorf("--profile %s: the pipeline is not a YAML mapping", profile)
		}
		return data, nil // the strict decoding reports it
	}
	if mappingValue(doc.Content[0], "extends") == nil && mappingValue(doc.Content[0], "profiles") == nil && profile == "" {
		return data, nil
	}
	root, err := resolveExtends(name, doc.Content[0], 0)
	if err != nil {
		return nil, err
	}
	ps := mappingValue(root, "profiles")
	if profile != "" {
		var chosen *yaml.Node
		if ps != nil && ps.Kind == yaml.MappingNode {
			chosen = mappingValue(ps, profile)
		}
		if chosen == nil {
			return nil, fmt.Errorf("profile %q is not defined in the pipeline's profiles: section (`flowdiff validate` lists them)", profile)
		}
		if chosen.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("profiles.%s (line %d): a profile is a mapping of the sections it changes", profile, chosen.Line)
		}
		root = overlay(root, chosen)
	}
	deleteKey(root, "profiles")
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encode merged pipeline: %w", err)
	}
	return out, nil
}

// readRoot reads a pipeline file's top mapping with its bases merged in.
func readRoot(path string, depth int) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read pipeline: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: a pipeline is a YAML mapping", path)
	}
	return resolveExtends(path, doc.Content[0], depth)
}

// resolveExtends merges root (read from file name) onto the pipeline its extends: names.
func resolveExtends(name string, root *yaml.Node, depth int) (*yaml.Node, error) {
	ext := mappingValue(root, "extends")
	if ext == nil {
		return root, nil
	}
	if ext.Kind != yaml.ScalarNode || ext.Value == "" {
		return nil, fmt.Errorf("extends (line %d): give the base pipeline's file, relative to this one", ext.Line)
	}
	if depth >= maxExtends {
		return nil, fmt.Errorf("extends (line %d): more than %d bases in a chain (a cycle?)", ext.Line, maxExtends)
	}
	path := ext.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(name), path)
	}
	base, err := readRoot(path, depth+1)
	if err != nil {
		return nil, fmt.Errorf("extends (line %d): %w", ext.Line, err)
	}
	deleteKey(root, "extends")
	return overlay(base, root), nil
}

// overlay merges top onto base (both mappings) and returns base: mapping values merge
// recursively, any other value replaces the one below.
func overlay(base, top *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		j := keyIndex(base, k.Value)
		switch {
		case j < 0:
			base.Content = append(base.Content, k, v)
		case v.Kind == yaml.MappingNode && base.Content[j+1].Kind == yaml.MappingNode:
			overlay(base.Content[j+1], v)
		default:
			base.Content[j+1] = v
		}
	}
	return base
}

// keyIndex is the index of key in mapping m's Content, or -1.
func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// deleteKey removes key from mapping m.
func deleteKey(m *yaml.Node, key string) {
	if i := keyIndex(m, key); i >= 0 {
		m.Content = slices.Delete(m.Content, i, i+2)
	}
}
