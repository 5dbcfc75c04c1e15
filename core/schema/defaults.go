package schema

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// FillDefaults sets each zero field of the struct that out points to to the default of its
// tag, as Decode does for an absent key, and runs no check. It is how a Go constructor takes
// a config whose zero fields mean "the documented default" while each default stays written
// once, in its tag:
//
//	func NewGaussianNoise(cfg GaussianNoiseConfig) (*GaussianNoise, error) {
//		schema.FillDefaults(&cfg) // a zero sigma becomes 0.1, the tag's default
//		...
//	}
//
// Two kinds of field are left as given: bools, since false is a value in Go and not an
// absence (a pipeline's absent key still gets the tag's default from Decode); and fields whose
// type implements Decoder, which own their defaults. Nested structs (not pointers to
// structs) are filled field by field. A default that does not parse as the field's type is a
// programmer error and panics, as in Decode.
func FillDefaults(out any) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("schema.FillDefaults: out must be a non-nil pointer to a struct, got %T", out))
	}
	fillDefaults(v.Elem(), "")
}

func fillDefaults(v reflect.Value, path string) {
	for _, f := range structFields(v.Type()).list {
		fv := fieldByIndex(v, f.index)
		fpath := Join(path, f.name)
		switch {
		case fv.Kind() == reflect.Bool, reflect.PointerTo(fv.Type()).Implements(decoderType):
			continue
		case f.def != "" && fv.IsZero():
			if err := yaml.Unmarshal([]byte(f.def), fv.Addr().Interface()); err != nil {
				panic(fmt.Sprintf("schema: bad default %q for %s: %v", f.def, fpath, err))
			}
		case fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[yaml.Node]():
			fillDefaults(fv, fpath)
		}
	}
}
