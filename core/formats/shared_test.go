package formats

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
)

// TestSharedFiles reads real files of every kind through Read: the cryo-EM particle stacks,
// a tubulin TIFF and the FMD noisy/clean pairs, whose value ranges and PSNR (data range
// 255, whole image) the data folder's SOURCE.md lists (computed there with skimage; two
// decimals, hence the 0.005 dB tolerance).
func TestSharedFiles(t *testing.T) {
	cryo := fmttest.SharedData(t, "cryoem")
	for _, c := range []struct {
		path    string
		w, h, n int
	}{
		{"aspire_sample/sample.mrcs", 200, 200, 17},
		{"cryodrgn_empiar10076/empiar_10076_7.mrc", 320, 320, 7},
		{"cryodrgn_relion31/relion31.mrcs", 256, 256, 5},
	} {
		img, err := Read(filepath.Join(cryo, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if img.W != c.w || img.H != c.h || img.N != c.n || img.C != 1 || img.SourceType != dtype.Float32 || img.Format != "mrc" {
			t.Errorf("%s: %dx%dx%d x%d %v %s", c.path, img.W, img.H, img.C, img.N, img.SourceType, img.Format)
		}
	}
	tub := fmttest.SharedData(t, "tubulin-nih3t3")
	img, err := Read(filepath.Join(tub, "s_C001Tubulin1.tif"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := valueRange(img.Data)
	// 99 and 4095: the range tifffile reads for this file (a 12-bit camera in 16-bit samples).
	if img.W != 512 || img.H != 512 || img.N != 1 || img.SourceType != dtype.Uint16 || lo != 99 || hi != 4095 {
		t.Errorf("tubulin: %dx%d x%d %v, range %v..%v", img.W, img.H, img.N, img.SourceType, lo, hi)
	}

	fmd := fmttest.SharedData(t, "fmd")
	pairs := []struct {
		name                               string
		noisyLo, noisyHi, cleanLo, cleanHi float32
		psnr                               float64
	}{
		{"Confocal_BPAE_B.tif", 2, 191, 3, 149, 33.27},
		{"Confocal_BPAE_G.tif", 2, 255, 3, 229, 29.27},
		{"Confocal_BPAE_R.tif", 2, 184, 3, 136, 32.34},
		{"Confocal_fish.tif", 1, 255, 3, 254, 22.22},
		{"Confocal_mice.tif", 2, 200, 4, 171, 31.12},
		{"Confocal_FISH_3.png", 1, 255, 3, 251, 22.83},
	}
	for _, p := range pairs {
		noisy, err1 := Read(filepath.Join(fmd, "noisy", p.name))
		clean, err2 := Read(filepath.Join(fmd, "clean", p.name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		nlo, nhi := valueRange(noisy.Data)
		clo, chi := valueRange(clean.Data)
		if noisy.W != 512 || noisy.H != 512 || noisy.C != 1 || noisy.SourceType != dtype.Uint8 ||
			nlo != p.noisyLo || nhi != p.noisyHi || clo != p.cleanLo || chi != p.cleanHi {
			t.Errorf("%s: %dx%dx%d %v, ranges %v..%v and %v..%v", p.name, noisy.W, noisy.H, noisy.C, noisy.SourceType, nlo, nhi, clo, chi)
		}
		if got := psnr255(clean.Data, noisy.Data); math.Abs(got-p.psnr) > 0.005 {
			t.Errorf("%s: PSNR %.4f dB, SOURCE.md says %.2f", p.name, got, p.psnr)
		}
	}
	rgb, err := Read(filepath.Join(fmd, "clean", "WideField_BPAE_rgb.png"))
	if err != nil {
		t.Fatal(err)
	}
	// SOURCE.md: clean channel ranges 6-255, 34-255, 6-251.
	for c, want := range [][2]float32{{6, 255}, {34, 255}, {6, 251}} {
		ch := make([]float32, 0, 512*512)
		for i := c; i < len(rgb.Data); i += 3 {
			ch = append(ch, rgb.Data[i])
		}
		if lo, hi := valueRange(ch); rgb.C != 3 || lo != want[0] || hi != want[1] {
			t.Errorf("WideField clean channel %d: %d channels, range %v..%v, want %v", c, rgb.C, lo, hi, want)
		}
	}
}

func valueRange(v []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// psnr255 is 10 log10(255^2 / MSE) over all samples.
func psnr255(ref, img []float32) float64 {
	var se float64
	for i := range ref {
		d := float64(ref[i]) - float64(img[i])
		se += d * d
	}
	return 10 * math.Log10(255*255/(se/float64(len(ref))))
}
