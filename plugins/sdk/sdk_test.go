package sdk

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/registry"
)

type goodConfig struct {
	Sigma float64  `yaml:"sigma" default:"1" check:">0" doc:"width"`
	Names []string `yaml:"names"`
	Skip  int      `yaml:"-"`
}

type badConfig struct {
	Inner struct{ A int } `yaml:"inner"`
}

func TestParamDocs(t *testing.T) {
	docs, err := ParamDocs(&goodConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Name != "sigma" || docs[0].Type != "number" || docs[0].Default != "1" ||
		docs[0].Check != ">0" || docs[1].Type != "strings" {
		t.Errorf("docs %+v", docs)
	}
	if _, err := ParamDocs(&badConfig{}); err == nil || !strings.Contains(err.Error(), "cannot travel") {
		t.Errorf("nested struct: err %v", err)
	}
}

// TestConfigure checks strict decoding and validation of the host's JSON on the plugin side.
func TestConfigure(t *testing.T) {
	ctx := t.Context()
	e := registry.Entry{ID: "t.op", Kind: registry.KindPrior, Config: func() any { return &goodConfig{} },
		New: func(_ context.Context, cfg any) (any, error) { return cfg, nil }}
	srv, err := NewServer(Plugin{Name: "t", Parts: []registry.Entry{e}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Configure(ctx, "t.op", []byte(`{"sigma": 2, "names": ["a"]}`)); err != nil {
		t.Errorf("valid parameters: %v", err)
	}
	for js, want := range map[string]string{
		`{"sigma": -2}`: "sigma",
		`{"sigm": 2}`:   `did you mean "sigma"`,
		`{"sigma": `:    "not valid JSON",
	} {
		if _, err := srv.Configure(ctx, "t.op", []byte(js)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", js, err, want)
		}
	}
	if _, err := srv.Configure(ctx, "t.other", nil); err == nil || !strings.Contains(err.Error(), "provides t.op") {
		t.Errorf("unknown part: %v", err)
	}
	if _, err := NewServer(Plugin{Name: "t", Parts: []registry.Entry{e, e}}); err == nil {
		t.Error("duplicate part accepted")
	}
}

// TestPluginsLinkNoEngine: a plugin links the contract (core/part, core/batch) and the SDK, not
// the machine-learning engine: no GoMLX package among the dependencies of the SDK and of the
// Go example plugins (`go list -deps`). (sdktest, used only by a plugin's tests, does link it:
// it runs the engine's conformance suite, in-graph checks included.)
func TestPluginsLinkNoEngine(t *testing.T) {
	for _, pkg := range []string{".", "../examples/micro", "../examples/cryoem", "../examples/faulty"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "gomlx") || strings.HasSuffix(dep, "flowdiff-go/core/operators") ||
				strings.HasSuffix(dep, "flowdiff-go/core/nn") {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
