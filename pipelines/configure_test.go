package pipelines

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestConfigureChecksPluginRules: a plugin part's own rules (a cross-field rule, a rule in its
// constructor) run in the plugin's process, so decoding alone accepts what the plugin refuses
// (issue 15: `flowdiff validate` said valid, the run failed after its data stage). Configure
// starts the plugin and configures every part, locating each refusal at its pipeline item;
// offline it skips plugin parts and lists them.
func TestConfigureChecksPluginRules(t *testing.T) {
	dir := examplePlugins(t)
	cases := []struct {
		name, item, want string // want: "" = configured
	}{
		{"valid", "{op: micro.widefield, psf: gaussian, sigma_px: 1.5}", ""},
		{"cross-field rule", "{op: micro.widefield, psf: airy, sigma_px: 1.5}", "corruption[0]: micro.widefield: sigma_px: applies to psf: gaussian only (refused by plugin micro) (line 4)"},
		{"constructor rule", "{op: micro.widefield, pixel_nm: 1}", "corruption[0]: micro.widefield: the Airy kernel would need a radius of"},
		{"inside a composition", "{op: op.compose, ops: [blur.gaussian, {op: micro.widefield, psf: airy, sigma_px: 2}]}", "corruption[0]: op.compose: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "version: 1\nplugins_dir: " + dir + "\ncorruption:\n  - " + c.item + "\n  - noise.gaussian\nevaluate: {metrics: [metric.psnr]}\n"
			p, err := Parse("case.yaml", []byte(src))
			if err != nil {
				t.Fatalf("decoding refused it already: %v", err)
			}
			rep, err := p.Configure(context.Background(), false)
			if c.want == "" {
				if err != nil {
					t.Fatalf("valid pipeline: %v", err)
				}
				if rep.Configured != 3 || len(rep.Skipped) != 0 {
					t.Errorf("report %+v, want 3 parts configured", rep)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) || len(le.Errs) != 1 || !strings.Contains(le.Errs[0].Error(), c.want) {
				t.Fatalf("err = %v, want one located problem containing %q", err, c.want)
			}
			t.Logf("%v", le.Errs[0])
			// Offline, the plugin is not started and the item is listed as not checked.
			rep, err = p.Configure(context.Background(), true)
			if err != nil || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "corruption[0]") || !strings.Contains(rep.Skipped[0], "micro.widefield") {
				t.Errorf("offline: %+v, %v; want corruption[0] skipped", rep, err)
			}
		})
	}
}

// TestConfigureDefersAuto: a noise model with auto parameters cannot be built before the run
// estimates them; Configure lists it instead of failing on the placeholder.
func TestConfigureDefersAuto(t *testing.T) {
	p, err := Parse("auto.yaml", []byte("version: 1\ndata: {}\ncorruption:\n  - {op: noise.gaussian, sigma: auto}\nevaluate: {metrics: [metric.psnr]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := p.Configure(context.Background(), false)
	if err != nil || rep.Configured != 1 || len(rep.Deferred) != 1 || rep.Deferred[0] != "corruption[0] (noise.gaussian: sigma auto)" {
		t.Errorf("Configure = %+v, %v; want corruption[0] deferred and the metric configured", rep, err)
	}
}
