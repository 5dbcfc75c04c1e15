package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareExitCodes: a run within its golden tolerances exits 0 with the table, a
// regression exits 1 and names it, a missing golden file is a usage error (2), and so is
// sampling from a folder that is not a run.
func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"metrics": {"psnr.posterior_mean": 15.0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, golden string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(golden), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.json", `{"metrics": {"psnr.posterior_mean": {"value": 15.2, "tolerance": 0.5, "higher_is_better": true}}}`)
	bad := write("bad.json", `{"metrics": {"psnr.posterior_mean": {"value": 16, "tolerance": 0.5, "higher_is_better": true}}}`)
	code, out, errOut := runCLI(t, "compare", dir, ok)
	if code != exitOK || !strings.Contains(out, "all 1 metrics within tolerance") {
		t.Errorf("within tolerance: code %d, out %q, err %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "compare", dir, bad)
	if code != exitFailure || !strings.Contains(out, "REGRESSED") || !strings.Contains(errOut, "regressed") {
		t.Errorf("regression: code %d, out %q, err %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "compare", dir, filepath.Join(dir, "absent.json")); code != exitUsage {
		t.Errorf("missing golden file: code %d, want %d", code, exitUsage)
	}
	for _, args := range [][]string{{"compare", dir}, {"report"}, {"sample"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: code %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := runCLI(t, "sample", dir); code != exitUsage || !strings.Contains(errOut, "pipeline.yaml") {
		t.Errorf("sample of a folder without a run: code %d, err %q", code, errOut)
	}
}
