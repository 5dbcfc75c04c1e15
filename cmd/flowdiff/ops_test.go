package main

import (
	"encoding/json"
	"math"

	"crypto/sha256"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
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
	want := []string{"blur.gaussian", "blur.kernel", "blur.motion", "mask.box",
		"mask.random", "noise.gaussian", "noise.poisson", "noise.poisson_gaussian", "op.compose", "op.downsample", "op.mixture", "prior.l1", "prior.tv", "metric.psnr"}
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

func TestMetricsCommand(t *testing.T) {
	dir := t.TempDir()
	ref, img := filepath.Join(dir, "ref"), filepath.Join(dir, "img")
	os.MkdirAll(ref, 0o755)
	os.MkdirAll(img, 0o755)
	a := batch.New(1, 24, 24, 1)
	b := batch.New(1, 24, 24, 1)
	for i := range a.Data {
		a.Data[i] = float32(i%24) / 24
		b.Data[i] = a.Data[i] + 0.1*float32((i*7)%3-1)
	}
	data.WritePNG(filepath.Join(ref, "x.png"), a)
	data.WritePNG(filepath.Join(img, "x.png"), b)
	code, out, errOut := runCLI(t, "metrics", "--ref", ref, "--img", img, "--metric", "metric.psnr", "--json")
	if code != exitOK {
		t.Fatalf("code %d: %s", code, errOut)
	}
	var res struct {
		Metrics []struct {
			ID      string
			Summary struct{ Mean float64 }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Metrics) != 1 {
		t.Fatalf("output %q: %v", out, err)
	}
	// 2/3 of pixels off by 0.1 (quantized to 8 bits): PSNR near 10 log10(1/(0.01*2/3)) = 21.8 dB.
	if m := res.Metrics[0].Summary.Mean; math.Abs(m-21.8) > 0.5 {
		t.Errorf("psnr = %v, want about 21.8", m)
	}
	if code, _, _ := runCLI(t, "metrics", "--ref", ref, "--img", filepath.Join(dir, "missing")); code != exitUsage {
		t.Errorf("missing folder: code %d, want %d", code, exitUsage)
	}
}

// TestMetricsTableNarrow: the table for people stays narrow when a metric is unavailable
// (issue 15: its reason was printed in the MEAN column, 700 characters wide); the reasons
// follow the table, one per line, naming the metric.
func TestMetricsTableNarrow(t *testing.T) {
	dir := t.TempDir()
	ref, img := filepath.Join(dir, "ref"), filepath.Join(dir, "img")
	os.MkdirAll(ref, 0o755)
	os.MkdirAll(img, 0o755)
	a := batch.New(1, 24, 24, 1) // not 28x28: the MNIST classifier's FID is unavailable
	for i := range a.Data {
		a.Data[i] = float32(i%24) / 24
	}
	data.WritePNG(filepath.Join(ref, "x.png"), a)
	data.WritePNG(filepath.Join(img, "x.png"), a)
	code, out, errOut := runCLI(t, "metrics", "--ref", ref, "--img", img, "--metric", "metric.ssim", "--metric", "metric.fid_mnist_classifier")
	if code != exitOK {
		t.Fatalf("code %d: %s", code, errOut)
	}
	table, notes, _ := strings.Cut(out, "\n\n")
	for _, line := range strings.Split(table, "\n") {
		if len(line) > 80 {
			t.Errorf("table line of %d characters: %q", len(line), line)
		}
	}
	if !strings.Contains(table, "metric.fid_mnist_classifier") || !strings.Contains(table, "unavailable") {
		t.Errorf("table does not list the unavailable metric:\n%s", out)
	}
	if !strings.Contains(notes, "metric.fid_mnist_classifier: unavailable: ") || !strings.Contains(notes, "28x28") {
		t.Errorf("no reason below the table:\n%s", out)
	}
}
