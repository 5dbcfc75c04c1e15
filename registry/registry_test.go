package registry

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/schema"
	"gopkg.in/yaml.v3"
)

type gaussCfg struct {
	Sigma float64 `yaml:"sigma" default:"0.1" check:">0" doc:"noise std"`
}

func testEntries() []Entry {
	return []Entry{
		{ID: "noise.gaussian", Kind: KindNoise, Config: func() any { return &gaussCfg{} },
			New: func(_ context.Context, c any) (any, error) { return c.(*gaussCfg).Sigma, nil }},
		{ID: "blur.gaussian", Kind: KindOperator, Linear: true, New: func(context.Context, any) (any, error) { return "blur", nil }},
		{ID: "metric.psnr", Kind: KindMetric, New: func(context.Context, any) (any, error) { return "psnr", nil }},
	}
}

func TestRegistry(t *testing.T) {
	r := New()
	for _, e := range testEntries() {
		if err := r.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Add(testEntries()[0]); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("duplicate Add: err = %v", err)
	}
	if err := r.Add(Entry{ID: "Bad ID", Kind: KindNoise, New: testEntries()[0].New}); err == nil {
		t.Error("invalid ID accepted")
	}
	if got := strings.Join(r.IDs(""), ","); got != "blur.gaussian,metric.psnr,noise.gaussian" {
		t.Errorf("IDs not sorted: %s", got)
	}
	if got := r.IDs(KindMetric); len(got) != 1 || got[0] != "metric.psnr" {
		t.Errorf("IDs(metric) = %v", got)
	}
	_, err := r.Lookup("blur.gausian")
	if err == nil || !strings.Contains(err.Error(), `did you mean "blur.gaussian"`) {
		t.Errorf("Lookup typo: err = %v", err)
	}
	if _, err := r.LookupKind("metric.psnr", KindOperator, KindNoise); err == nil ||
		!strings.Contains(err.Error(), "is a metric") {
		t.Errorf("LookupKind wrong kind: err = %v", err)
	}
}

func TestRegisterPanicsOnDuplicate(t *testing.T) {
	saved := Default
	defer func() { Default = saved }()
	Default = New()
	Register(testEntries()[1])
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register(testEntries()[1])
}

func TestSpecDecode(t *testing.T) {
	ctx := t.Context()
	saved := Default
	defer func() { Default = saved }()
	Default = New()
	for _, e := range testEntries() {
		Register(e)
	}
	type pipe struct {
		Corruption []Spec `yaml:"corruption"`
	}
	src := "corruption:\n  - op: blur.gaussian\n  - op: noise.gaussian\n    sigma: 0.2\n  - metric.psnr\n"
	var p pipe
	if errs := schema.Unmarshal([]byte(src), &p); len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(p.Corruption) != 3 || p.Corruption[1].Config.(*gaussCfg).Sigma != 0.2 || p.Corruption[1].Line != 3 {
		t.Fatalf("decoded %+v", p.Corruption)
	}
	v, err := p.Corruption[1].Build(ctx)
	if err != nil || v.(float64) != 0.2 {
		t.Errorf("Build = %v, %v", v, err)
	}
	out, err := yaml.Marshal(p)
	if err != nil || !strings.Contains(string(out), "op: noise.gaussian\n      sigma: 0.2") {
		t.Errorf("resolved YAML:\n%s (err %v)", out, err)
	}

	bad := "corruption:\n  - op: noise.gaussian\n    sigma: -1\n  - op: blur.gausian\n  - op: noise.gaussian\n    sgima: 1\n  - op: blur.gaussian\n    size: 3\n"
	errs := schema.Unmarshal([]byte(bad), &p)
	errs.Sort()
	want := []string{
		"corruption[0].sigma: must be > 0, got -1 (line 3)",
		`corruption[1].op: unknown ID "blur.gausian"; did you mean "blur.gaussian"?`,
		`corruption[2].sgima: unknown field "sgima"; did you mean "sigma"? (line 6)`,
		"corruption[3].size: blur.gaussian takes no parameters (line 8)",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors:\n%v", len(errs), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want %q", i, errs[i], w)
		}
	}
}

// TestNamespaceFitsKind: an ID needs a namespace, and a namespace reserved for a kind takes
// only parts of that kind; other namespaces (a plugin's name) take any kind.
func TestNamespaceFitsKind(t *testing.T) {
	newPart := func(any) (any, error) { return nil, nil }
	cases := []struct {
		id   string
		kind Kind
		want string // "" for accepted
	}{
		{"blur.gaussian", KindOperator, ""},
		{"op.compose", KindOperator, ""},
		{"noise.gaussian", KindNoise, ""},
		{"micro.poisson_gaussian", KindNoise, ""},
		{"micro.widefield", KindOperator, ""},
		{"compose", KindOperator, "invalid ID"},
		{"noise.blur", KindOperator, `namespace "noise" is for noises`},
		{"blur.noise", KindNoise, `namespace "blur" is for operators`},
		{"metric.tv", KindPrior, `namespace "metric" is for metrics`},
		{"prior.psnr", KindMetric, `namespace "prior" is for priors`},
	}
	for _, c := range cases {
		err := New().Add(Entry{ID: c.id, Kind: c.kind, New: func(_ context.Context, v any) (any, error) { return newPart(v) }})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s (%s): rejected: %v", c.id, c.kind, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s (%s): err = %v, want one containing %q", c.id, c.kind, err, c.want)
		}
	}
}

// TestDeprecatedID: a former ID still finds its part, and a pipeline naming it decodes as the
// current ID with a warning naming the field and the new ID.
func TestDeprecatedID(t *testing.T) {
	saved := Default
	defer func() { Default = saved }()
	Default = New()
	e := testEntries()[1]
	e.ID, e.Deprecated = "op.blur", []string{"blur"}
	if err := Default.Add(e); err != nil {
		t.Fatal(err)
	}
	if err := Default.Add(Entry{ID: "op.other", Kind: KindOperator, Deprecated: []string{"blur"}, New: e.New}); err == nil {
		t.Error("a deprecated ID claimed twice was accepted")
	}
	if got, ok := Default.Current("blur"); !ok || got != "op.blur" {
		t.Errorf("Current(blur) = %q, %v", got, ok)
	}
	if _, ok := Default.Current("op.blur"); ok {
		t.Error("Current reports the current ID as deprecated")
	}
	var logged strings.Builder
	SetLogger(slog.New(slog.NewTextHandler(&logged, nil)))
	defer SetLogger(nil)
	var s Spec
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("op: blur\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := s.DecodeYAML(doc.Content[0], "corruption[0]"); len(errs) > 0 {
		t.Fatal(errs)
	}
	if s.ID != "op.blur" || s.Entry.ID != "op.blur" {
		t.Errorf("decoded as %q (entry %q), want op.blur", s.ID, s.Entry.ID)
	}
	for _, want := range []string{`\"blur\" is a deprecated ID`, `write \"op.blur\"`, "field=corruption[0].op", "line=1"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("warning %q lacks %q", logged.String(), want)
		}
	}
}
