package noiseest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/data"
)

// fmdFloor is the lowest clean intensity the FMD reference uses: below it the 8-bit images
// pile up at their black level (3/255) and the variance is clipped.
const fmdFloor = 0.03

// fmdTable reports, for the real fluorescence microscopy pairs of FMD (Zhang et al., "A
// Poisson-Gaussian denoising dataset with real fluorescence microscopy images", CVPR 2019)
// when the shared data holds them, the estimate from each noisy capture alone next to a
// reference fitted to the capture minus its 50-frame average. Nothing is asserted: the
// reference is itself approximate (the average keeps 1/50 of the noise, the images are 8-bit
// with a black level), and the table shows where the white-noise model stops holding.
func fmdTable(t *testing.T, md *bytes.Buffer) {
	dir := sharedDir("fmd")
	if dir == "" {
		t.Log("FMD not found (shared/data/fmd): its rows are left out")
		return
	}
	files, err := data.ListImages(filepath.Join(dir, "noisy"), false)
	if err != nil {
		t.Fatal(err)
	}
	md.WriteString("#### Real fluorescence microscopy (FMD)\n\n" +
		"Estimated from each noisy capture alone, with the offset c set to the capture's most frequent value (its black level), next to a reference: the same fit, " +
		"without smoothness test, to the variance of (capture − 50-frame average) in bins of the average's intensity " +
		fmt.Sprintf("(0.01 wide, from %.2f up), with the same offset. â (offset 0) is the estimate that ignores the black level. ", fmdFloor) +
		"The last column is the residual's mean HH² over its pixel variance: 1 for white noise, below 1 when neighbouring pixels' noise is correlated. Not asserted.\n\n" +
		"| file | offset c | reference a | reference b | â | b̂ | â (offset 0) | fitted means | blocks used | residual HH²/var |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range files {
		base := filepath.Base(f)
		noisy, err := data.ReadImageFile(f, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		clean, err := data.ReadImageFile(filepath.Join(dir, "clean", base), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		c := mode(noisy.Data)
		ra, rb, ratio := fmdReference(noisy.Data, clean.Data, noisy.H, noisy.W, c)
		e0, err := EstimatePoissonGaussianBatch(noisy, PGOptions{})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		e, err := EstimatePoissonGaussianBatch(noisy, PGOptions{Offset: float64(c)})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		fmt.Fprintf(md, "| %s | %.4f | %.4f | %.1e | %.4f ± %.4f | %.1e ± %.0e | %.4f ± %.4f | %.3f–%.3f | %d/%d | %.2f |\n",
			base, c, ra, rb, e.A, e.StdErrA, e.B, e.StdErrB, e0.A, e0.StdErrA, e.MeanLow, e.MeanHigh, e.Blocks, e.Blocks+e.Screened, ratio)
	}
	md.WriteString("\n")
}

// fmdReference fits var = a·(x - offset) + b to the residual noisy - clean binned by clean
// intensity x, and returns the residual's HH energy over its pixel variance.
func fmdReference(noisy, clean []float32, h, w int, offset float32) (a, b, ratio float64) {
	const width = 0.01
	sx, sv, sn := map[int]float64{}, map[int]float64{}, map[int]float64{}
	res := Plane{H: h, W: w, Data: make([]float32, len(noisy))}
	var s2 float64
	for i := range noisy {
		x, r := float64(clean[i]), float64(noisy[i]-clean[i])
		res.Data[i] = float32(r)
		s2 += r * r
		if x < fmdFloor {
			continue
		}
		k := int(x / width)
		sx[k] += x
		sv[k] += r * r
		sn[k]++
	}
	var pts []pgPoint
	var ones []int
	for k, n := range sn {
		if n >= 200 {
			pts = append(pts, pgPoint{m: sx[k]/n - float64(offset), v: sv[k] / n, n: n})
			ones = append(ones, 1)
		}
	}
	if len(pts) >= 2 {
		a, b = fitPG(pts, ones, nil, nil)
	}
	l := analyze(res)
	var hh2 float64
	for _, v := range l.hh {
		hh2 += v * v
	}
	return a, b, (hh2 / float64(len(l.hh))) / (s2 / float64(len(noisy)))
}

// mode returns the most frequent value (the smallest among ties).
func mode(v []float32) float32 {
	counts := map[float32]int{}
	for _, x := range v {
		counts[x]++
	}
	var best float32
	n := 0
	for x, c := range counts {
		if c > n || (c == n && x < best) {
			best, n = x, c
		}
	}
	return best
}
