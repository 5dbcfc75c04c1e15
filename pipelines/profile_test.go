package pipelines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileOverlay checks the overlay rule of profile.go on a base file, a document that
// extends it and its profiles: mappings merge key by key, lists and scalars replace whole.
func TestProfileOverlay(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("base.yaml", `version: 1
name: base
data: {source: mnist, train: 100, test: 10}
corruption:
  - {op: noise.gaussian, sigma: 0.2}
train: {batch: 16, steps: 40, flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}}
evaluate: {metrics: [metric.psnr, metric.ssim]}
`)
	doc := write("doc.yaml", `version: 1
extends: base.yaml
name: doc
train: {steps: 50}
profiles:
  big: {train: {batch: 64, flow: {hidden: 64}}, evaluate: {metrics: [metric.psnr]}}
  noisy: {corruption: [{op: noise.gaussian, sigma: 0.3}]}
`)
	for _, tc := range []struct {
		profile              string
		batch, steps, hidden int
		levels, metrics      int
		sigma                float64
	}{
		{"", 16, 50, 16, 2, 2, 0.2},      // the document over its base
		{"big", 64, 50, 64, 2, 1, 0.2},   // nested mapping merged, list replaced
		{"noisy", 16, 50, 16, 2, 2, 0.3}, // a list (corruption) replaced whole
	} {
		p, err := LoadProfile(doc, tc.profile)
		if err != nil {
			t.Fatalf("profile %q: %v", tc.profile, err)
		}
		tr := p.Train
		if tr.Batch != tc.batch || tr.Steps != tc.steps || tr.Flow.Hidden != tc.hidden || tr.Flow.Levels != tc.levels || len(p.Evaluate.Metrics) != tc.metrics {
			t.Errorf("profile %q: batch %d steps %d hidden %d levels %d metrics %d; want %d %d %d %d %d", tc.profile,
				tr.Batch, tr.Steps, tr.Flow.Hidden, tr.Flow.Levels, len(p.Evaluate.Metrics), tc.batch, tc.steps, tc.hidden, tc.levels, tc.metrics)
		}
		if got := getParam(p.Corruption[0].Config, "sigma"); got != tc.sigma {
			t.Errorf("profile %q: sigma %v, want %v", tc.profile, got, tc.sigma)
		}
		if p.Name != "doc" || p.Data.Train != 100 {
			t.Errorf("profile %q: name %q train %d, want doc and the base's 100", tc.profile, p.Name, p.Data.Train)
		}
	}
	if names, err := Profiles(doc); err != nil || strings.Join(names, ",") != "big,noisy" {
		t.Errorf("Profiles = %v, %v; want [big noisy]", names, err)
	}
	if _, err := LoadProfile(doc, "huge"); err == nil || !strings.Contains(err.Error(), `profile "huge" is not defined`) {
		t.Errorf("unknown profile: %v", err)
	}
	loop := write("loop.yaml", "version: 1\nextends: loop.yaml\n")
	if _, err := Load(loop); err == nil || !strings.Contains(err.Error(), "a cycle") {
		t.Errorf("extends cycle: %v", err)
	}
	// Without extends and profiles the document is decoded as written: lines stay exact.
	plain := write("plain.yaml", "version: 1\ndata: {source: mnist}\nbogus: 1\n")
	if _, err := Load(plain); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("unknown key in a plain document: %v, want it located at line 3", err)
	}
}
