package pipelines

import (
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/registry"
)

// TestIntegerFieldsStrict: the cases of issue 15, where a decimal in an integer field was
// truncated without a word (size 9.5 ran as 9) and validated as valid.
func TestIntegerFieldsStrict(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"data.size", "version: 1\ndata:\n  size: 16.7\n", "data.size: must be an integer, got 16.7 (line 3)"},
		{"train.steps", "version: 1\ndata: {}\ntrain:\n  steps: 5.9\n", "train.steps: must be an integer, got 5.9 (line 4)"},
		{"operator parameter", "version: 1\ncorruption:\n  - op: blur.gaussian\n    size: 9.5\n", "corruption[0].size: must be an integer, got 9.5 (line 4)"},
		{"seed overflow", "version: 1\nseed: 9223372036854775808\n", "seed: 9223372036854775808 is out of range"},
		{"report.grid exponent", "version: 1\nreport: {grid: 1e1}\n", "report.grid: must be an integer, got 1e1 (line 2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse("case.yaml", []byte(c.yaml))
			if err == nil {
				out, _ := p.Resolved()
				t.Fatalf("accepted; resolved as\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// checkRoundTrip is the fuzz property: an accepted document's resolved pipeline holds every
// value the document wrote, unchanged (numerically for numbers, as text for strings), and
// resolving the resolved pipeline again changes nothing.
func checkRoundTrip(t *testing.T, data []byte, p *Pipeline) {
	t.Helper()
	out, err := p.Resolved()
	if err != nil {
		t.Fatalf("valid pipeline cannot be written back: %v", err)
	}
	var in, res yaml.Node
	if err := yaml.Unmarshal(data, &in); err != nil {
		t.Fatalf("accepted document does not parse: %v", err)
	}
	if err := yaml.Unmarshal(out, &res); err != nil {
		t.Fatalf("resolved pipeline does not parse: %v\n%s", err, out)
	}
	if err := sameValues(&in, &res, ""); err != nil {
		t.Fatalf("%v\ndocument:\n%s\nresolved:\n%s", err, data, out)
	}
	p2, err := Parse("resolved.yaml", out)
	if err != nil {
		t.Fatalf("resolved pipeline does not validate: %v\n%s", err, out)
	}
	out2, err := p2.Resolved()
	if err != nil || string(out2) != string(out) {
		t.Fatalf("resolving twice differs (%v):\n%s\n---\n%s", err, out, out2)
	}
}

// sameValues checks that every value of in is in out at the same path. A null in carries no
// value (the field keeps its zero value); a bare registry ID is resolved to {op: ID, ...}; a
// deprecated ID is written back as its current name (with a warning when loaded: the same
// part); plugins_dir is made absolute on loading.
func sameValues(in, out *yaml.Node, path string) error {
	for in.Kind == yaml.DocumentNode || in.Kind == yaml.AliasNode {
		if in.Kind == yaml.AliasNode {
			in = in.Alias
		} else if len(in.Content) > 0 {
			in = in.Content[0]
		} else {
			return nil
		}
	}
	if out.Kind == yaml.DocumentNode && len(out.Content) > 0 {
		out = out.Content[0]
	}
	switch in.Kind {
	case yaml.ScalarNode:
		if in.ShortTag() == "!!null" {
			return nil
		}
		if out.Kind == yaml.MappingNode { // a bare ID, resolved to a mapping
			if op := mapValue(out, "op"); op != nil && sameID(in.Value, op.Value) {
				return nil
			}
			return fmt.Errorf("%s: %q became a mapping without op: %[2]s", path, in.Value)
		}
		if strings.HasSuffix(path, ".op") && out.Kind == yaml.ScalarNode && sameID(in.Value, out.Value) {
			return nil
		}
		if out.Kind != yaml.ScalarNode || !sameScalar(in, out) {
			return fmt.Errorf("%s: written %q, resolved %q", path, in.Value, out.Value)
		}
	case yaml.MappingNode:
		if out.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: a mapping became %q", path, out.Value)
		}
		for i := 0; i+1 < len(in.Content); i += 2 {
			key := in.Content[i].Value
			if path == "" && key == "plugins_dir" {
				continue
			}
			v := mapValue(out, key)
			if v == nil {
				if isNullNode(in.Content[i+1]) {
					continue
				}
				return fmt.Errorf("%s: dropped from the resolved pipeline", joinPath(path, key))
			}
			if err := sameValues(in.Content[i+1], v, joinPath(path, key)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		if out.Kind != yaml.SequenceNode || len(out.Content) != len(in.Content) {
			return fmt.Errorf("%s: a list of %d became %v", path, len(in.Content), out.Value)
		}
		for i := range in.Content {
			if err := sameValues(in.Content[i], out.Content[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameID reports whether written and resolved name the same part: equal, or written is a
// deprecated ID whose current name is resolved.
func sameID(written, resolved string) bool {
	cur, _ := registry.Default.Current(written)
	return written == resolved || cur == resolved
}

func isNullNode(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// sameScalar compares a written scalar with its resolved form: a string field keeps the text;
// integers compare exactly; a number compares as the float64 both parse to.
func sameScalar(in, out *yaml.Node) bool {
	if out.ShortTag() == "!!str" {
		return in.Value == out.Value
	}
	var a, b any
	if in.Decode(&a) != nil || out.Decode(&b) != nil {
		return false
	}
	ia, aInt := bigInt(a)
	ib, bInt := bigInt(b)
	if aInt && bInt {
		return ia.Cmp(ib) == 0
	}
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	if aNum && bNum {
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func bigInt(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int:
		return big.NewInt(int64(x)), true
	case int64:
		return big.NewInt(x), true
	case uint64:
		return new(big.Int).SetUint64(x), true
	}
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int, int64, uint64:
		f, _ := new(big.Float).SetInt(must(bigInt(x))).Float64()
		return f, true
	}
	return 0, false
}

func must(n *big.Int, _ bool) *big.Int { return n }
