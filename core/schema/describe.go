package schema

import (
	"fmt"
	"reflect"
	"strings"
)

// FieldDoc documents one configuration field for references and `--explain` output.
type FieldDoc struct {
	Path    string // dotted path; list elements appear as "name[]"
	Type    string // human type: "a number", "a list of integers", "a section"
	Default string // the YAML default, "" when none
	Check   string // the validation rules as written in the tag
	Doc     string
}

// Describe lists the fields of the struct type of v (a struct or pointer to one), depth first,
// in declaration order.
func Describe(v any) []FieldDoc {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []FieldDoc
	describe(t, "", &out, map[reflect.Type]bool{})
	return out
}

func describe(t reflect.Type, path string, out *[]FieldDoc, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	for _, f := range structFields(t).list {
		p := Join(path, f.name)
		ft := f.typ
		typ := friendlyType(ft)
		var sub reflect.Type
		switch {
		case ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(decoderType):
			typ, sub = "a section", ft
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			typ, sub = "an optional section (absent: stage skipped)", ft.Elem()
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct &&
			!reflect.PointerTo(ft.Elem()).Implements(decoderType):
			typ, sub = "a list of sections", ft.Elem()
			p += "[]"
		case reflect.PointerTo(ft).Implements(decoderType) ||
			(ft.Kind() == reflect.Slice && reflect.PointerTo(ft.Elem()).Implements(decoderType)):
			if d, ok := reflect.New(ft).Interface().(interface{ SchemaType() string }); ok {
				typ = d.SchemaType()
			} else if ft.Kind() == reflect.Slice {
				if d, ok := reflect.New(ft.Elem()).Interface().(interface{ SchemaType() string }); ok {
					typ = "a list of " + d.SchemaType()
				}
			}
		}
		*out = append(*out, FieldDoc{Path: p, Type: typ, Default: f.def, Check: f.check, Doc: f.doc})
		if sub != nil {
			describe(sub, p, out, seen)
		}
	}
}

// Markdown renders docs as a Markdown table.
func Markdown(docs []FieldDoc) string {
	var b strings.Builder
	b.WriteString("| field | type | default | rules | meaning |\n|---|---|---|---|---|\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Path, d.Type, code(d.Default),
			code(d.Check), strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}
