package host

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// TestConfigType decodes pipeline YAML into the config struct built from parameter docs and
// checks the JSON the plugin would receive, and that the docs' rules hold on the host.
func TestConfigType(t *testing.T) {
	params := []Param{
		{Name: "sigma_px", Type: "number", Default: "1.5", Check: ">0", Doc: "width, pixels"},
		{Name: "psf", Type: "string", Default: "airy", Check: "oneof=airy|gaussian"},
		{Name: "taps", Type: "integers", Default: "[1, 2]"},
		{Name: "on", Type: "bool"},
	}
	typ, err := configType(params)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(src string) (string, error) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		var node *yaml.Node
		if len(doc.Content) > 0 {
			node = doc.Content[0]
		}
		cfg := newConfig(typ)
		if errs := schema.Decode(node, cfg, "corruption[0]"); len(errs) > 0 {
			return "", errs
		}
		js, err := json.Marshal(cfg)
		return string(js), err
	}
	got, err := decode("sigma_px: 2\non: true\n")
	if want := `{"sigma_px":2,"psf":"airy","taps":[1,2],"on":true}`; err != nil || got != want {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
	for src, want := range map[string]string{
		"sigma_px: -1\n":  "corruption[0].sigma_px",
		"psf: confocal\n": "airy",
		"sigma: 1\n":      `did you mean "sigma_px"`,
	} {
		if _, err := decode(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", src, err, want)
		}
	}
	if _, err := configType([]Param{{Name: "x", Type: "matrix"}}); err == nil {
		t.Error("unknown type accepted")
	}
}
