package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpsListShowsBuiltIns(t *testing.T) {
	code, out, _ := runCLI(t, "ops", "list")
	if code != exitOK {
		t.Fatalf("code %d", code)
	}
	want := []string{"blur.gaussian", "blur.kernel", "blur.motion", "compose", "downsample", "mask.box",
		"mask.random", "mixture", "noise.gaussian", "noise.poisson", "noise.poisson_gaussian", "metric.psnr"}
	last := -1
	for _, id := range want[:len(want)-1] {
		i := strings.Index(out, "\n"+id+" ")
		if i < 0 {
			t.Errorf("ops list lacks %s", id)
		}
		if i < last && !strings.HasPrefix(id, "metric") {
			t.Errorf("%s out of sorted order", id)
		}
		last = i
	}
	if !strings.Contains(out, "built-in") {
		t.Error("ops list lacks the origin column")
	}
}

func TestOpsDescribe(t *testing.T) {
	code, out, _ := runCLI(t, "ops", "describe", "noise.gaussian")
	if code != exitOK || !strings.Contains(out, "sigma") || !strings.Contains(out, ">0") {
		t.Errorf("describe: %d %q", code, out)
	}
	code, _, errOut := runCLI(t, "ops", "describe", "blur.gausian")
	if code != exitUsage || !strings.Contains(errOut, `did you mean "blur.gaussian"`) {
		t.Errorf("describe typo: %d %q", code, errOut)
	}
}

// TestOpsCheckAll asserts the promise: every built-in passes conformance on the go
// backend through the command users run.
func TestOpsCheckAll(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance of every part takes a few seconds")
	}
	code, out, errOut := runCLI(t, "ops", "check")
	if code != exitOK {
		t.Fatalf("ops check: code %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "parts passed") {
		t.Errorf("ops check output:\n%s", out)
	}
	if code, _, _ := runCLI(t, "ops", "check", "no.such"); code != exitUsage {
		t.Errorf("unknown ID: code %d", code)
	}
}

// TestCorruptSameSeedSameBytes runs `flowdiff corrupt` twice and compares every file.
func TestCorruptSameSeedSameBytes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(p, []byte(`version: 1
name: c
seed: 5
data: {source: mnist, train: 16, test: 8}
corruption:
  - op: mask.random
    fraction: 0.3
  - op: noise.gaussian
    sigma: 0.1
`), 0o644)
	hashes := make([]map[string][32]byte, 2)
	for i := range hashes {
		dir := filepath.Join(t.TempDir(), "run")
		if code, _, errOut := runCLI(t, "corrupt", p, "--out", dir); code != exitOK {
			t.Fatalf("corrupt: code %d: %s", code, errOut)
		}
		hashes[i] = map[string][32]byte{}
		filepath.Walk(filepath.Join(dir, "corrupted"), func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				data, _ := os.ReadFile(path)
				rel, _ := filepath.Rel(dir, path)
				hashes[i][rel] = sha256.Sum256(data)
			}
			return nil
		})
	}
	if len(hashes[0]) < 6 { // per set: observations, mask param, clean, manifest
		t.Fatalf("too few files: %v", hashes[0])
	}
	for f, h := range hashes[0] {
		if hashes[1][f] != h {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
}
