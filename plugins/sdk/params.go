package sdk

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// ParamDocs lists the parameters of a config struct (a pointer to one) for Describe: each
// field's yaml key, protocol type and its default, check and doc tags. Fields without a yaml
// key ("-") are skipped; a field of a type the protocol cannot carry is an error.
func ParamDocs(cfg any) ([]protocol.ParamDoc, error) {
	t := reflect.TypeOf(cfg)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("Config must return a pointer to a struct, got %T", cfg)
	}
	var out []protocol.ParamDoc
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			return nil, fmt.Errorf("config field %s: inline structs are not supported by the plugin protocol", f.Name)
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		typ, err := wireType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("config field %s (%s): %w", f.Name, name, err)
		}
		out = append(out, protocol.ParamDoc{Name: name, Type: typ, Default: f.Tag.Get("default"),
			Check: f.Tag.Get("check"), Doc: f.Tag.Get("doc")})
	}
	return out, nil
}

func wireType(t reflect.Type) (string, error) {
	switch t.Kind() {
	case reflect.Float64, reflect.Float32:
		return protocol.TypeNumber, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return protocol.TypeInteger, nil
	case reflect.String:
		return protocol.TypeString, nil
	case reflect.Bool:
		return protocol.TypeBool, nil
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.Float64, reflect.Float32:
			return protocol.TypeNumbers, nil
		case reflect.Int, reflect.Int64, reflect.Int32:
			return protocol.TypeIntegers, nil
		case reflect.String:
			return protocol.TypeStrings, nil
		}
	}
	return "", fmt.Errorf("type %s cannot travel as a plugin parameter: use float64, int, string, bool or a slice of those", t)
}
