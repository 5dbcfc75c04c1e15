package registry

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

type pathCfg struct {
	Path  string  `yaml:"path" check:"required,nonempty"`
	Scale float64 `yaml:"scale" default:"2" check:">0"`
}

// TestDefaultAndExampleConfig: DefaultConfig is what decoding a pipeline item without
// parameters gives (the tags' defaults); ExampleConfig decodes Example over the defaults and
// falls back to DefaultConfig without one; a part without Config gets nil; defaults that fail
// their checks and an Example that does not decode give schema.Errors located under the ID,
// and an Example that is not YAML an error naming the ID.
func TestDefaultAndExampleConfig(t *testing.T) {
	gauss := Entry{ID: "noise.gaussian", Config: func() any { return &gaussCfg{} }}
	file := Entry{ID: "blur.file", Config: func() any { return &pathCfg{} }}
	for _, c := range []struct {
		name        string
		e           Entry
		example     bool   // call ExampleConfig instead of DefaultConfig
		want        any    // the config, when no error is wanted
		schemaErr   string // a substring of the schema.Errors wanted
		otherErrSub string // a substring of a non-schema error wanted
	}{
		{"defaults", gauss, false, &gaussCfg{Sigma: 0.1}, "", ""},
		{"no example: defaults", gauss, true, &gaussCfg{Sigma: 0.1}, "", ""},
		{"example", withExample(gauss, "sigma: 0.3\n"), true, &gaussCfg{Sigma: 0.3}, "", ""},
		{"example over defaults", withExample(file, "path: k.npy\n"), true, &pathCfg{Path: "k.npy", Scale: 2}, "", ""},
		{"no config", Entry{ID: "metric.psnr"}, false, nil, "", ""},
		{"no config, example", withExample(Entry{ID: "metric.psnr"}, "x: 1\n"), true, nil, "", ""},
		{"incomplete defaults", file, false, nil, "blur.file.path: is required", ""},
		{"bad example", withExample(gauss, "sigma: -1\n"), true, nil, "noise.gaussian.example.sigma", ""},
		{"unknown key in example", withExample(gauss, "sigmaa: 1\n"), true, nil, `did you mean "sigma"`, ""},
		{"example not YAML", withExample(gauss, "sigma: [\n"), true, nil, "", "noise.gaussian: example parameters are not valid YAML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			get := c.e.DefaultConfig
			if c.example {
				get = c.e.ExampleConfig
			}
			cfg, err := get()
			var errs schema.Errors
			switch {
			case c.schemaErr != "":
				if !errors.As(err, &errs) || !strings.Contains(err.Error(), c.schemaErr) {
					t.Errorf("err = %v (%T), want schema.Errors containing %q", err, err, c.schemaErr)
				}
			case c.otherErrSub != "":
				if err == nil || errors.As(err, &errs) || !strings.Contains(err.Error(), c.otherErrSub) {
					t.Errorf("err = %v (%T), want a non-schema error containing %q", err, err, c.otherErrSub)
				}
			case err != nil:
				t.Fatal(err)
			case c.want == nil && cfg != nil:
				t.Errorf("config = %#v, want nil", cfg)
			case c.want != nil && !reflect.DeepEqual(cfg, c.want):
				t.Errorf("config = %#v, want %#v", cfg, c.want)
			}
		})
	}
}

func withExample(e Entry, ex string) Entry {
	e.Example = ex
	return e
}
