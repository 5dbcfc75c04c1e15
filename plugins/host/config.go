package host

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// goType maps a protocol parameter type to the Go type of its config field.
func goType(t string) (reflect.Type, error) {
	switch t {
	case protocol.TypeNumber:
		return reflect.TypeFor[float64](), nil
	case protocol.TypeInteger:
		return reflect.TypeFor[int](), nil
	case protocol.TypeString:
		return reflect.TypeFor[string](), nil
	case protocol.TypeBool:
		return reflect.TypeFor[bool](), nil
	case protocol.TypeNumbers:
		return reflect.TypeFor[[]float64](), nil
	case protocol.TypeIntegers:
		return reflect.TypeFor[[]int](), nil
	case protocol.TypeStrings:
		return reflect.TypeFor[[]string](), nil
	}
	return nil, fmt.Errorf("unknown type %q: use number, integer, string, bool, numbers, integers or strings", t)
}

// configType builds, with reflect.StructOf, a config struct for a plugin part whose fields
// carry the yaml, json, default, check and doc tags of its parameters. core/schema then
// decodes and documents it exactly like a built-in's config (strict keys, defaults, rules,
// `flowdiff ops describe`), and encoding/json turns it into the JSON the plugin receives.
func configType(params []Param) (reflect.Type, error) {
	fields := make([]reflect.StructField, 0, len(params))
	seen := map[string]bool{}
	for _, p := range params {
		t, err := goType(p.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		name := fieldName(p.Name)
		if seen[name] || p.Name == "" || p.Name == "op" {
			return nil, fmt.Errorf("parameter %q: empty, reserved or duplicate name", p.Name)
		}
		seen[name] = true
		tag := fmt.Sprintf(`yaml:%s json:%s`, strconv.Quote(p.Name), strconv.Quote(p.Name))
		for _, kv := range [][2]string{{"default", p.Default}, {"check", p.Check}, {"doc", p.Doc}} {
			if kv[1] != "" {
				tag += fmt.Sprintf(" %s:%s", kv[0], strconv.Quote(kv[1]))
			}
		}
		fields = append(fields, reflect.StructField{Name: name, Type: t, Tag: reflect.StructTag(tag)})
	}
	return reflect.StructOf(fields), nil
}

// fieldName turns a parameter name (pixel_size) into an exported Go identifier (PPixelSize).
func fieldName(param string) string {
	var b strings.Builder
	b.WriteByte('P')
	up := true
	for _, r := range param {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
		default:
			b.WriteByte('_')
			up = true
		}
	}
	return b.String()
}
