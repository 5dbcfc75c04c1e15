package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

const (
	lpipsScript        = "../../testdata/metrics/make_lpips_reference.py"
	lpipsReferenceFile = "../../testdata/metrics/lpips_reference.json"
)

// testLPIPS loads the weights the way metric.lpips finds them, or skips the test.
func testLPIPS(t testing.TB) *LPIPS {
	t.Helper()
	path, err := FindLPIPSWeights("")
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("LPIPS weights absent: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadLPIPS(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type lpipsReference struct {
	TorchVersion string `json:"torch_version"`
	Cases        []struct {
		Name     string    `json:"name"`
		H        int       `json:"h"`
		W        int       `json:"w"`
		C        int       `json:"c"`
		Ref      []float32 `json:"ref"`
		Img      []float32 `json:"img"`
		LPIPS    float64   `json:"lpips"`
		LPIPSF64 float64   `json:"lpips_f64"`
	} `json:"cases"`
}

// checkLPIPSReference compares m with every case within a relative tolerance tol of the
// float32 PyTorch value, and logs the distance to the float64 value.
func checkLPIPSReference(t *testing.T, m *LPIPS, data []byte, tol float64) {
	t.Helper()
	var ref lpipsReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("lpips reference: %v", err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("lpips reference has no cases")
	}
	for _, c := range ref.Cases {
		s := batch.Shape{N: 1, H: c.H, W: c.W, C: c.C}
		a, err := batch.FromData(s, c.Ref)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		b, err := batch.FromData(s, c.Img)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		got, err := m.Compute(context.Background(), a, b)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		rel := math.Abs(got[0]-c.LPIPS) / c.LPIPS
		rel64 := math.Abs(got[0]-c.LPIPSF64) / c.LPIPSF64
		if rel > tol {
			t.Errorf("%s: LPIPS = %.8f, PyTorch %s gives %.8f (relative diff %.2g > %g)",
				c.Name, got[0], ref.TorchVersion, c.LPIPS, rel, tol)
		} else {
			t.Logf("%s: LPIPS %.8f, torch f32 %.8f (rel %.1e), torch f64 %.8f (rel %.1e)",
				c.Name, got[0], c.LPIPS, rel, c.LPIPSF64, rel64)
		}
	}
}

// TestLPIPSReference matches values PyTorch computed from the same weights file
// (lpips_reference.json, written by make_lpips_reference.py). Both run the network in
// float32 with different summation orders; 1e-4 relative is the agreed tolerance, and the
// log shows the actual differences (about 1e-7 to 1e-6).
func TestLPIPSReference(t *testing.T) {
	m := testLPIPS(t)
	data, err := os.ReadFile(lpipsReferenceFile)
	if err != nil {
		t.Fatal(err)
	}
	checkLPIPSReference(t, m, data, 1e-4)
}

// TestLPIPSReferenceLive reruns make_lpips_reference.py when Debian's python3-torch is
// installed, on the weights file that Go found.
func TestLPIPSReferenceLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch; skipped under -short")
	}
	m := testLPIPS(t)
	if err := exec.Command(debianPython, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s with torch not available (%v); apt-get install python3-torch", debianPython, err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(debianPython, lpipsScript, m.Path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(lpipsScript), err, errb.String())
	}
	checkLPIPSReference(t, m, out.Bytes(), 1e-4)
}

// realImages returns 8 real-looking images: MNIST test digits when present, else CIFAR-10
// dogs, else the smooth synthetic pattern.
func realImages(t *testing.T) *batch.Batch {
	if d, err := data.LoadMNIST("", "test", 8); err == nil {
		t.Logf("images: %s", d.Source)
		return d.Images
	}
	if d, err := data.LoadFolder("../../../shared/data/cifar10-dog/test/dog", data.FolderOptions{Channels: 3, Limit: 8}); err == nil {
		t.Logf("images: %s", d.Source)
		return d.Images
	}
	t.Log("images: synthetic smooth patterns (no MNIST or CIFAR found)")
	return smoothPattern(8, 32, 32, 3, 5)
}

func TestLPIPSProperties(t *testing.T) {
	m := testLPIPS(t)
	ctx := context.Background()
	ref := realImages(t)
	same, err := m.Compute(ctx, ref, ref.Clone())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range same {
		if math.Abs(v) > 1e-6 {
			t.Errorf("image %d: LPIPS of identical images = %g, want 0", i, v)
		}
	}
	prev := same
	for k, sigma := range []float64{0.05, 0.1, 0.2, 0.4} {
		noisy := addNoise(ref, sigma, uint64(10+k))
		ab, err := m.Compute(ctx, ref, noisy)
		if err != nil {
			t.Fatal(err)
		}
		ba, _ := m.Compute(ctx, noisy, ref)
		for i := range ab {
			// the distance is symmetric in exact arithmetic; float32 features round alike on
			// both sides, so the two orders agree to summation order
			if math.Abs(ab[i]-ba[i]) > 1e-9*max(1, ab[i]) {
				t.Errorf("sigma %g image %d: LPIPS(a,b)=%.12f != LPIPS(b,a)=%.12f", sigma, i, ab[i], ba[i])
			}
			if !(ab[i] > prev[i]) {
				t.Errorf("image %d: LPIPS %.4f at noise %g is not above %.4f at the previous level", i, ab[i], sigma, prev[i])
			}
		}
		t.Logf("sigma %.2f: mean LPIPS %.4f", sigma, Summarize(ab).Mean)
		prev = ab
	}
}

func TestLPIPSErrors(t *testing.T) {
	m := testLPIPS(t)
	ctx := context.Background()
	if _, err := m.Compute(ctx, batch.New(1, 16, 40, 3), batch.New(1, 16, 40, 3)); err == nil {
		t.Error("16x40 images accepted; SqueezeNet needs at least 17x17")
	}
	if _, err := m.Compute(ctx, batch.New(1, 17, 17, 1), batch.New(1, 17, 17, 1)); err != nil {
		t.Errorf("17x17 rejected: %v", err)
	}
	if _, err := m.Compute(ctx, batch.New(1, 32, 32, 2), batch.New(1, 32, 32, 2)); err == nil {
		t.Error("2-channel images accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Compute(cctx, batch.New(2, 32, 32, 3), batch.New(2, 32, 32, 3)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

// TestLPIPSUnavailable checks that a missing weights file gives ErrUnavailable with
// directions, from the config path, from the environment and from Build.
func TestLPIPSUnavailable(t *testing.T) {
	ctx := t.Context()
	missing := filepath.Join(t.TempDir(), "nope.safetensors")
	if _, err := FindLPIPSWeights(missing); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "PerceptualSimilarity") {
		t.Errorf("missing config path: err = %v", err)
	}
	if _, err := LoadLPIPS(missing); !errors.Is(err, ErrUnavailable) {
		t.Errorf("LoadLPIPS of a missing file: err = %v", err)
	}
	t.Setenv(LPIPSWeightsEnv, missing)
	_, err := Build(ctx, "metric.lpips")
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.ID != "metric.lpips" || !strings.Contains(ue.Reason, LPIPSWeightsEnv) {
		t.Errorf("Build with %s=%s: err = %v", LPIPSWeightsEnv, missing, err)
	}
}

// TestLoadLPIPSRejects checks that a wrong or corrupt file is an ordinary error, not
// "unavailable".
func TestLoadLPIPSRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := func(h string) []byte {
		b := make([]byte, 8, 8+len(h)+4)
		b[0] = byte(len(h))
		return append(append(b, h...), 0, 0, 0, 0)
	}
	for name, b := range map[string][]byte{
		"short":       {1, 2, 3},
		"huge header": {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'},
		"bad json":    header(`{"a":`),
		"bad range":   header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`),
		"other net":   header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`),
	} {
		_, err := LoadLPIPS(write(strings.ReplaceAll(name, " ", "_"), b))
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v, want a load error", name, err)
		}
	}
}

func BenchmarkLPIPS(b *testing.B) {
	m := testLPIPS(b)
	for _, s := range []batch.Shape{{N: 64, H: 28, W: 28, C: 1}, {N: 64, H: 32, W: 32, C: 3}, {N: 8, H: 128, W: 128, C: 3}} {
		b.Run(s.String(), func(b *testing.B) {
			ref := smoothPattern(s.N, s.H, s.W, s.C, 1)
			img := addNoise(ref, 0.1, 2)
			for b.Loop() {
				if _, err := m.Compute(context.Background(), ref, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.N*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

func BenchmarkSSIM(b *testing.B) {
	for _, s := range []batch.Shape{{N: 64, H: 28, W: 28, C: 1}, {N: 64, H: 32, W: 32, C: 3}} {
		b.Run(s.String(), func(b *testing.B) {
			ref := smoothPattern(s.N, s.H, s.W, s.C, 1)
			img := addNoise(ref, 0.1, 2)
			for b.Loop() {
				if _, err := (SSIM{Range: 1}).Compute(context.Background(), ref, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.N*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// TestPoolSize checks the ceil-mode output lengths against PyTorch's formula worked by hand,
// and the smallest accepted image side.
func TestPoolSize(t *testing.T) {
	// n: 1 -> error (0), 2 -> 1 (window cut), 3 -> 1, 6 -> 3, 13 -> 6, 15 -> 7
	for n, want := range map[int]int{1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 13: 6, 15: 7} {
		if got := poolSize(n); got != want {
			t.Errorf("poolSize(%d) = %d, want %d", n, got, want)
		}
	}
	var n squeezeNet
	n.conv1.k, n.conv1.stride = 3, 2
	for side := 1; side <= 40; side++ {
		if err := n.checkInputSize(side, side); (err == nil) != (side >= 17) {
			t.Errorf("side %d: err = %v", side, err)
		}
	}
}

// BenchmarkGemm measures the matrix kernel at the shapes of SqueezeNet layers (M output
// pixels, N output channels, K = k*k*Cin) on dense random inputs, in GMAC/s on one core.
func BenchmarkGemm(b *testing.B) {
	for _, s := range [][3]int{{225, 64, 27}, {49, 64, 144}, {49, 16, 64}, {3969, 64, 27}, {961, 64, 144}} {
		m, n, k := s[0], s[1], s[2]
		x := smoothPattern(1, m, k, 1, 3).Data
		w := smoothPattern(1, k, n, 1, 4).Data
		c := make([]float32, m*n)
		b.Run(fmt.Sprintf("M%d_N%d_K%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				gemm(m, n, k, x, k, w, c, n)
			}
			b.ReportMetric(float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}
