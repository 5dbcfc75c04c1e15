// Package schema decodes YAML configuration strictly into Go structs and validates it, with
// every problem located by field path and line, all reported at once.
//
// A config struct describes itself with field tags, so each default and rule is written once
// and the reference documentation comes from the same place:
//
//	type GaussianNoise struct {
//		// Sigma is the noise standard deviation, in [0,1] intensity units.
//		Sigma float64 `yaml:"sigma" default:"0.1" check:">0" doc:"noise standard deviation, in [0,1] intensity units"`
//	}
//
// Tags:
//   - yaml: the key (yaml.v3 rules; ",inline" embeds a struct's keys).
//   - default: a YAML scalar applied when the key is absent.
//   - check: comma-separated rules: ">x", ">=x", "<x", "<=x", "odd", "nonempty",
//     "oneof=a|b|c", "required" (the key must be present).
//   - doc: one line for the generated reference (unit, meaning).
//
// Decoding is strict: an unknown key is an error naming the close matches, and an integer
// field takes only an integer literal within its type's range (a decimal such as 9.5 is an
// error, never truncated; see scalar.go for every number and boolean rule). A type that needs
// its own decoding (for example an operator whose parameters depend on its ID) implements
// Decoder. A struct implementing Checker adds cross-field rules after its fields pass.
package schema

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoder is implemented (on the pointer) by types that decode their own YAML node.
type Decoder interface {
	DecodeYAML(node *yaml.Node, path string) Errors
}

// Problem is a cross-field mistake found by a Checker; Field is the yaml key of the struct
// field at fault ("" for the struct as a whole).
type Problem struct {
	Field string
	Msg   string
}

// Checker is implemented (on the pointer) by config structs with rules across fields. It
// runs after defaults are applied and field checks passed.
type Checker interface {
	Check() []Problem
}

// Decode decodes node into out, a pointer to a struct, strictly; applies defaults; and runs
// the checks. path prefixes every reported field path. A nil node (absent section) yields
// the defaults.
func Decode(node *yaml.Node, out any, path string) Errors {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic(fmt.Sprintf("schema.Decode: out must be a non-nil pointer, got %T", out))
	}
	var errs Errors
	decodeValue(node, v.Elem(), path, lineOf(node), &errs)
	return errs
}

// Unmarshal parses a YAML document and decodes it like Decode. Syntax errors are reported
// with their line.
func Unmarshal(data []byte, out any) Errors {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Errors{syntaxError(err)}
	}
	if doc.Kind == 0 {
		return Errors{{Msg: "empty document"}}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	return Decode(root, out, "")
}

func syntaxError(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &FieldError{Line: line, Msg: "invalid YAML: " + msg}
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

var decoderType = reflect.TypeFor[Decoder]()

// decodeValue decodes node (possibly nil) into v, located at path.
func decodeValue(node *yaml.Node, v reflect.Value, path string, line int, errs *Errors) {
	if node != nil && node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if v.CanAddr() && v.Addr().Type().Implements(decoderType) {
		if node != nil || v.Kind() == reflect.Struct {
			*errs = append(*errs, v.Addr().Interface().(Decoder).DecodeYAML(node, path)...)
		}
		return
	}
	switch {
	case v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[yaml.Node]():
		decodeStruct(node, v, path, line, errs)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if node == nil || isNull(node) {
			return // an absent section stays nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		decodeValue(node, v.Elem(), path, line, errs)
	case v.Kind() == reflect.Slice && needsWalk(v.Type().Elem()):
		if node == nil {
			return
		}
		if node.Kind != yaml.SequenceNode {
			*errs = append(*errs, &FieldError{path, node.Line, "must be a list"})
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), len(node.Content), len(node.Content)))
		for i, item := range node.Content {
			decodeValue(item, v.Index(i), fmt.Sprintf("%s[%d]", path, i), item.Line, errs)
		}
	case isScalarKind(v.Kind()):
		if node == nil {
			return
		}
		if msg := decodeScalar(node, v); msg != "" {
			*errs = append(*errs, &FieldError{path, node.Line, msg})
		}
	case v.Kind() == reflect.Slice && isScalarKind(v.Type().Elem().Kind()):
		if node == nil {
			return
		}
		decodeScalarList(node, v, path, errs)
	default:
		if node == nil {
			return
		}
		if err := node.Decode(v.Addr().Interface()); err != nil {
			*errs = append(*errs, &FieldError{path, node.Line, typeErrorMsg(err, v.Type())})
		}
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// needsWalk reports whether values of type t are decoded field by field.
func needsWalk(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(decoderType) {
		return true
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[yaml.Node]()
}

func typeErrorMsg(err error, t reflect.Type) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "cannot unmarshal "); i >= 0 {
		msg = msg[i:]
	}
	return fmt.Sprintf("expected %s: %s", friendlyType(t), strings.TrimPrefix(msg, "yaml: "))
}

func friendlyType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(friendlyType(t.Elem()), "a "), "an ")
	case reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// decodeStruct walks the mapping node against the struct's fields.
func decodeStruct(node *yaml.Node, v reflect.Value, path string, line int, errs *Errors) {
	fields := structFields(v.Type())
	present := map[string]*yaml.Node{} // key -> key node
	values := map[string]*yaml.Node{}
	if node != nil && !isNull(node) {
		if node.Kind != yaml.MappingNode {
			*errs = append(*errs, &FieldError{path, node.Line, "must be a mapping of keys to values"})
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			if k.Value == "<<" { // merge keys are not supported: keep pipelines explicit
				*errs = append(*errs, &FieldError{path, k.Line, "YAML merge keys (<<) are not supported; write the keys out"})
				continue
			}
			if _, ok := fields.byName[k.Value]; !ok {
				*errs = append(*errs, unknownKey(path, k, fields.names))
				continue
			}
			if _, dup := present[k.Value]; dup {
				*errs = append(*errs, &FieldError{Join(path, k.Value), k.Line, "key given twice"})
				continue
			}
			present[k.Value], values[k.Value] = k, val
		}
	}
	before := len(*errs)
	for _, f := range fields.list {
		fv := fieldByIndex(v, f.index)
		fpath := Join(path, f.name)
		fline := line
		if k := present[f.name]; k != nil {
			fline = k.Line
		}
		val := values[f.name]
		if val == nil && f.def != "" && fv.IsZero() {
			if err := yaml.Unmarshal([]byte(f.def), fv.Addr().Interface()); err != nil {
				panic(fmt.Sprintf("schema: bad default %q for %s: %v", f.def, fpath, err))
			}
		}
		decodeValue(val, fv, fpath, fline, errs)
		if len(*errs) > before {
			continue // a value that failed to decode is not checked further
		}
		for _, r := range f.rules {
			if msg := r.check(fv, val != nil); msg != "" {
				*errs = append(*errs, &FieldError{fpath, fline, msg})
				break
			}
		}
	}
	if len(*errs) > before {
		return
	}
	if c, ok := v.Addr().Interface().(Checker); ok {
		for _, p := range c.Check() {
			fl := line
			if k := present[p.Field]; k != nil {
				fl = k.Line
			}
			fp := path
			if p.Field != "" {
				fp = Join(path, p.Field)
			}
			*errs = append(*errs, &FieldError{fp, fl, p.Msg})
		}
	}
}

func unknownKey(path string, k *yaml.Node, known []string) *FieldError {
	msg := fmt.Sprintf("unknown field %q", k.Value)
	if c := Closest(k.Value, known); len(c) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(quoteAll(c), " or "))
	} else {
		msg += fmt.Sprintf("; known fields: %s", strings.Join(known, ", "))
	}
	return &FieldError{Join(path, k.Value), k.Line, msg}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// fieldByIndex is v.FieldByIndex allocating nil embedded pointers on the way.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

type field struct {
	name  string
	index []int
	def   string
	doc   string
	check string
	rules []rule
	typ   reflect.Type
}

type fieldSet struct {
	list   []field
	byName map[string]field
	names  []string
}

// structFields lists the yaml-visible fields of t, flattening ",inline" structs.
func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string]field{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("yaml")
			if tag == "-" || !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(index), i)
			if strings.Contains(opts, "inline") {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				walk(et, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			f := field{name: name, index: idx, def: sf.Tag.Get("default"), doc: sf.Tag.Get("doc"),
				check: sf.Tag.Get("check"), typ: sf.Type}
			f.rules = parseRules(f.check, sf.Type)
			fs.list = append(fs.list, f)
			fs.byName[name] = f
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	return fs
}
