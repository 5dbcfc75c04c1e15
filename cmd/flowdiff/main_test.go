package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs the command in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, _ := os.Create(filepath.Join(dir, "stdout"))
	errf, _ := os.Create(filepath.Join(dir, "stderr"))
	code := run(context.Background(), append([]string{"flowdiff"}, args...), out, errf)
	out.Close()
	errf.Close()
	o, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	e, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	return code, string(o), string(e)
}

func TestValidateExitCodes(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "../../flowdiff.yaml")
	if code != exitOK || !strings.Contains(out, "valid") {
		t.Errorf("validate flowdiff.yaml: code %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "validate", "../../testdata/pipelines/three-mistakes.yaml")
	if code != exitUsage {
		t.Errorf("validate three-mistakes: code %d, want %d", code, exitUsage)
	}
	if n := strings.Count(errOut, "(line "); n != 3 {
		t.Errorf("want 3 located problems, got %d:\n%s", n, errOut)
	}
	code, _, errOut = runCLI(t, "validate", "no-such-file.yaml")
	if code != exitUsage || !strings.Contains(errOut, "cannot read pipeline") {
		t.Errorf("missing file: code %d, err %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"run"},
		{"run", "--no-such-flag", "x.yaml"},
		{"--log-format", "xml", "version"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: code %d, want %d (stderr %q)", args, code, exitUsage, errOut)
		}
	}
}

func TestVersionAndExplain(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.Contains(out, "pipeline schema version 1") {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "validate", "--explain")
	if code != exitOK || !strings.Contains(out, "`data.source`") {
		t.Errorf("validate --explain: %d %q", code, out)
	}
}

func TestXLACudaFailsFastWithHint(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	p := filepath.Join(t.TempDir(), "p.yaml")
	// The runner starts the backend before any stage, so even an empty pipeline checks it.
	os.WriteFile(p, []byte("version: 1\nname: x\n"), 0o644)
	start := time.Now()
	code, _, errOut := runCLI(t, "run", "--backend", "xla:cuda", "--out", filepath.Join(t.TempDir(), "run"), p)
	if code != exitFailure {
		t.Errorf("code %d, want %d; stderr %q", code, exitFailure, errOut)
	}
	if !strings.Contains(errOut, "PJRT_PLUGIN_LIBRARY_PATH") {
		t.Errorf("no install hint in %q", errOut)
	}
	if d := time.Since(start); d > 10*time.Second { // "fails within seconds, never hangs"
		t.Errorf("took %s", d)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	app := newApp(os.Stdout, os.Stderr)
	got := strings.Join(interspersed(app, []string{"flowdiff", "--log-level", "debug", "run", "p.yaml", "--out", "d", "--backend=go"}), " ")
	want := "flowdiff --log-level debug run --out d --backend=go p.yaml"
	if got != want {
		t.Errorf("interspersed = %q, want %q", got, want)
	}
	got = strings.Join(interspersed(app, []string{"flowdiff", "run", "--out", "d", "p.yaml"}), " ")
	if got != "flowdiff run --out d p.yaml" {
		t.Errorf("flags first: %q", got)
	}
	got = strings.Join(interspersed(app, []string{"flowdiff", "validate", "p.yaml", "--explain"}), " ")
	if got != "flowdiff validate --explain p.yaml" {
		t.Errorf("bool flag: %q", got)
	}
}
