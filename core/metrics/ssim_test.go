package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// ssimReference is testdata/metrics/ssim_reference.json, written by make_ssim_reference.py.
type ssimReference struct {
	SkimageVersion string `json:"skimage_version"`
	Cases          []struct {
		Name      string    `json:"name"`
		H         int       `json:"h"`
		W         int       `json:"w"`
		C         int       `json:"c"`
		DataRange float64   `json:"data_range"`
		Ref       []float32 `json:"ref"`
		Img       []float32 `json:"img"`
		SSIM      float64   `json:"ssim"`
	} `json:"cases"`
}

const (
	ssimScript        = "../../testdata/metrics/make_ssim_reference.py"
	ssimReferenceFile = "../../testdata/metrics/ssim_reference.json"
	debianPython      = "/usr/bin/python3"
)

func loadSSIMReference(t *testing.T, data []byte) ssimReference {
	t.Helper()
	var ref ssimReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("ssim reference: %v", err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("ssim reference has no cases")
	}
	return ref
}

// checkSSIMReference compares metric.ssim with every case of ref within tol.
func checkSSIMReference(t *testing.T, ref ssimReference, tol float64) {
	t.Helper()
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
		got, err := SSIM{Range: c.DataRange}.Compute(context.Background(), a, b)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if d := math.Abs(got[0] - c.SSIM); d > tol {
			t.Errorf("%s: SSIM = %.10f, scikit-image %s gives %.10f (|diff| %.2g > %g)",
				c.Name, got[0], ref.SkimageVersion, c.SSIM, d, tol)
		} else {
			t.Logf("%s: SSIM %.10f, scikit-image %.10f, |diff| %.2g", c.Name, got[0], c.SSIM, d)
		}
	}
}

// TestSSIMReference matches the values scikit-image computed (ssim_reference.json). Both
// sides work in float64 on the same float32 pixels, so agreement is to rounding (observed
// 4e-15 at most); the tolerance 1e-9 leaves room for summation order only.
func TestSSIMReference(t *testing.T) {
	data, err := os.ReadFile(ssimReferenceFile)
	if err != nil {
		t.Fatal(err)
	}
	checkSSIMReference(t, loadSSIMReference(t, data), 1e-9)
}

// TestSSIMReferenceLive reruns make_ssim_reference.py with Debian's Python and scikit-image,
// so the committed JSON cannot drift from the script, and compares within 1e-4 (a newer
// scikit-image may sum in another order).
func TestSSIMReferenceLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python; skipped under -short")
	}
	if err := exec.Command(debianPython, "-c", "import skimage.metrics, numpy").Run(); err != nil {
		t.Skipf("%s with scikit-image not available (%v); apt-get install python3-skimage python3-numpy", debianPython, err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(debianPython, ssimScript)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(ssimScript), err, errb.String())
	}
	checkSSIMReference(t, loadSSIMReference(t, out.Bytes()), 1e-4)
}

// smoothPattern returns n smooth [0,1] images with a blob and an edge (seeded).
func smoothPattern(n, h, w, c int, seed uint64) *batch.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := batch.New(n, h, w, c)
	for i := range n {
		for ch := range c {
			fy, fx, ph := 0.05+0.25*rng.Float64(), 0.05+0.25*rng.Float64(), 6.3*rng.Float64()
			cy, cx := float64(h)*rng.Float64(), float64(w)*rng.Float64()
			s := 0.2 * float64(min(h, w))
			for y := range h {
				for x := range w {
					fyv, fxv := float64(y), float64(x)
					v := 0.35 + 0.2*math.Sin(fy*fyv+fx*fxv+ph) +
						0.4*math.Exp(-((fyv-cy)*(fyv-cy)+(fxv-cx)*(fxv-cx))/(2*s*s))
					if fxv > float64(w)*0.4 {
						v += 0.15
					}
					b.Set(i, y, x, ch, float32(min(max(v, 0), 1)))
				}
			}
		}
	}
	return b
}

// addNoise returns b plus Gaussian noise of standard deviation sigma (seeded, not clipped).
func addNoise(b *batch.Batch, sigma float64, seed uint64) *batch.Batch {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := b.Clone()
	for i := range out.Data {
		out.Data[i] += float32(sigma * rng.NormFloat64())
	}
	return out
}

func TestSSIMProperties(t *testing.T) {
	ctx := context.Background()
	m, err := Build(ctx, "metric.ssim")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{1, 3} {
		ref := smoothPattern(4, 24, 30, c, 11)
		same, err := m.Compute(ctx, ref, ref.Clone())
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range same {
			if math.Abs(v-1) > 1e-12 { // identical inputs: every S(p) is exactly 1 up to rounding
				t.Errorf("C=%d image %d: SSIM of identical images = %.15f, want 1", c, i, v)
			}
		}
		prev := make([]float64, ref.N)
		for i := range prev {
			prev[i] = 1
		}
		for k, sigma := range []float64{0.02, 0.05, 0.1, 0.2, 0.4} {
			noisy := addNoise(ref, sigma, uint64(k))
			ab, _ := m.Compute(ctx, ref, noisy)
			ba, _ := m.Compute(ctx, noisy, ref)
			for i := range ab {
				if math.Abs(ab[i]-ba[i]) > 1e-12 { // the formula is symmetric in x and y
					t.Errorf("C=%d sigma %g image %d: SSIM(a,b)=%.15f != SSIM(b,a)=%.15f", c, sigma, i, ab[i], ba[i])
				}
				if !(ab[i] < prev[i]) {
					t.Errorf("C=%d image %d: SSIM %.4f at noise %g is not below %.4f at the previous level", c, i, ab[i], sigma, prev[i])
				}
				prev[i] = ab[i]
			}
		}
	}
}

func TestSSIMErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (SSIM{Range: 1}).Compute(ctx, batch.New(1, 10, 20, 1), batch.New(1, 10, 20, 1)); err == nil {
		t.Error("10x20 image accepted; the 11x11 window needs at least 11x11")
	}
	if _, err := (SSIM{Range: 1}).Compute(ctx, batch.New(1, 12, 12, 1), batch.New(1, 12, 12, 3)); err == nil {
		t.Error("shape mismatch accepted")
	}
	var cfg SSIMConfig
	if errs := schema.Unmarshal([]byte("data_range: 0\n"), &cfg); errs.Err() == nil {
		t.Error("data_range 0 accepted")
	}
}

func TestReflectIndex(t *testing.T) {
	// scipy.ndimage mode "reflect" on n=4 (a b c d): index -3..7 -> c b a | a b c d | d c b a
	n := 4
	want := map[int]int{-3: 2, -2: 1, -1: 0, 0: 0, 3: 3, 4: 3, 5: 2, 6: 1, 7: 0, 8: 0, -9: 0}
	for i, w := range want {
		if got := reflectIndex(i, n); got != w {
			t.Errorf("reflectIndex(%d, %d) = %d, want %d", i, n, got, w)
		}
	}
}
