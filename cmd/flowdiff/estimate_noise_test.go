package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// TestEstimateNoiseCommand writes two 16-bit TIFFs of a ramp with Gaussian noise of sigma
// 0.04 (seeded) and checks the command's text and JSON output and its usage errors.
func TestEstimateNoiseCommand(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 2 {
		b := batch.New(1, 128, 128, 1)
		for y := range 128 {
			for x := range 128 {
				b.Data[y*128+x] = float32(0.2 + 0.5*float64(x+y)/256 + 0.04*rng.NormFloat64())
			}
		}
		if err := data.WriteTIFF16(filepath.Join(dir, fmt.Sprintf("n%d.tif", k)), b); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, "estimate-noise", dir)
	if code != exitOK || !strings.Contains(out, "pooled (2 files)") || !strings.Contains(out, "n1.tif") {
		t.Fatalf("estimate-noise: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "estimate-noise", "--json", "--model", "gaussian", filepath.Join(dir, "n0.tif"), filepath.Join(dir, "n1.tif"))
	var r struct {
		Pooled struct {
			Gaussian struct{ Sigma, StdErr float64 }
		}
	}
	if code != exitOK || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("--json: code %d, out %q, err %q", code, out, errOut)
	}
	// 2 x 128² pixels: the default estimator is within 5% (docs/noise-estimation.md).
	if s := r.Pooled.Gaussian.Sigma; math.Abs(s/0.04-1) > 0.05 || !(r.Pooled.Gaussian.StdErr > 0) {
		t.Errorf("pooled sigma %v ± %v, want 0.04 within 5%% and a positive standard error", s, r.Pooled.Gaussian.StdErr)
	}
	code, out, _ = runCLI(t, "estimate-noise", "--model", "poisson-gaussian", dir)
	if code != exitOK || !strings.Contains(out, "A (GAIN)") {
		t.Errorf("poisson-gaussian: code %d, out %q", code, out)
	}
	for _, args := range [][]string{
		{"estimate-noise"},
		{"estimate-noise", "--model", "laplace", dir},
		{"estimate-noise", "--method", "guess", dir},
		{"estimate-noise", "--normalize", "gamma", dir},
		{"estimate-noise", filepath.Join(dir, "missing.tif")},
	} {
		if code, _, errOut := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: code %d, want %d (stderr %q)", args, code, exitUsage, errOut)
		}
	}
}
