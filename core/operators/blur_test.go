package operators

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// directConv is the "same" convolution with zero padding written out as in
// scipy.signal.convolve2d(mode="same"): y[n,i,j,c] = Σ_{a,b} k[a,b] x[n, i+cy-a, j+cx-b, c],
// cy = (kh-1)/2, cx = (kw-1)/2.
func directConv(x *batch.Batch, k *Kernel) *batch.Batch {
	y := batch.New(x.N, x.H, x.W, x.C)
	cy, cx := (k.H-1)/2, (k.W-1)/2
	for n := range x.N {
		for i := range x.H {
			for j := range x.W {
				for c := range x.C {
					s := 0.0
					for a := range k.H {
						for b := range k.W {
							p, q := i+cy-a, j+cx-b
							if p >= 0 && p < x.H && q >= 0 && q < x.W {
								s += k.At(a, b) * float64(x.At(n, p, q, c))
							}
						}
					}
					y.Set(n, i, j, c, float32(s))
				}
			}
		}
	}
	return y
}

// directAdjoint scatters v back along the same index map: x̂[p,q] += k[a,b] v[i,j] for every
// term of directConv, the transpose by construction.
func directAdjoint(v *batch.Batch, k *Kernel) *batch.Batch {
	acc := make([]float64, len(v.Data))
	cy, cx := (k.H-1)/2, (k.W-1)/2
	for n := range v.N {
		for i := range v.H {
			for j := range v.W {
				for a := range k.H {
					for b := range k.W {
						p, q := i+cy-a, j+cx-b
						if p >= 0 && p < v.H && q >= 0 && q < v.W {
							for c := range v.C {
								acc[v.Index(n, p, q, c)] += k.At(a, b) * float64(v.At(n, i, j, c))
							}
						}
					}
				}
			}
		}
	}
	out := batch.New(v.N, v.H, v.W, v.C)
	for i, s := range acc {
		out.Data[i] = float32(s)
	}
	return out
}

// blurCases are the blurs checked against directConv, with the input shapes.
func blurCases(t *testing.T) []struct {
	name  string
	op    part.Operator
	k     *Kernel
	shape batch.Shape
} {
	must := func(op *convOp, err error) *convOp {
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	g33, err := NewGaussianBlur(GaussianBlurConfig{Size: 33, Sigma: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	g5, _ := NewGaussianBlur(GaussianBlurConfig{Size: 5, Sigma: 1})
	mot, _ := NewMotionBlur(MotionBlurConfig{Length: 5, Angle: 30})
	// An asymmetric, even-sized kernel: catches flips and off-by-one centers.
	asym := &Kernel{H: 3, W: 4, K: []float64{1, 2, 0, -1, 0.5, 3, 1, 0, 0, -2, 4, 0.25}}
	kb := must(func() (*convOp, error) { b, err := NewKernelBlurFrom(asym); return &b.convOp, err }())
	return []struct {
		name  string
		op    part.Operator
		k     *Kernel
		shape batch.Shape
	}{
		{"gaussian 33/1.5 on 28x28x1", g33, g33.kernel, batch.Shape{N: 2, H: 28, W: 28, C: 1}},
		{"gaussian 5/1 on 7x9x3", g5, g5.kernel, batch.Shape{N: 2, H: 7, W: 9, C: 3}},
		{"motion 5 at 30deg on 10x12x2", mot, mot.kernel, batch.Shape{N: 2, H: 10, W: 12, C: 2}},
		{"asymmetric 3x4 on 6x5x2", kb, asym, batch.Shape{N: 1, H: 6, W: 5, C: 2}},
		{"asymmetric 3x4 on 70x64x1 (windows in graph)", kb, asym, batch.Shape{N: 1, H: 70, W: 64, C: 1}},
	}
}

// TestBlurAgainstDirectConvolution checks Apply against directConv and VJP against
// directAdjoint; tolerance 1e-5 relative to the largest output (float32 storage, float64 sums).
func TestBlurAgainstDirectConvolution(t *testing.T) {
	for i, c := range blurCases(t) {
		t.Run(c.name, func(t *testing.T) {
			x := randBatch(uint64(i), c.shape)
			y, err := c.op.Apply(ctx, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(t, y, directConv(x, c.k)); d > 1e-5 {
				t.Errorf("Apply differs from the direct convolution by %.3g (relative)", d)
			}
			v := randBatch(uint64(i)+100, c.shape)
			g, err := c.op.VJP(ctx, x, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(t, g, directAdjoint(v, c.k)); d > 1e-5 {
				t.Errorf("VJP differs from the direct adjoint by %.3g (relative)", d)
			}
		})
	}
}

// TestBlurInGraph checks the in-graph form (banded, dense and windows paths) against Apply, and
// graph.Gradient through it against VJP, on the go backend; tolerance 1e-5 relative.
func TestBlurInGraph(t *testing.T) {
	for i, c := range blurCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewGraphRunner(testBackend(t), c.op)
			if err != nil {
				t.Fatal(err)
			}
			x, v := randBatch(uint64(i), c.shape), randBatch(uint64(i)+100, c.shape)
			want, _ := c.op.Apply(ctx, x, nil)
			got, err := r.Apply(ctx, x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(t, got, want); d > 1e-5 {
				t.Errorf("ApplyGraph differs from Apply by %.3g", d)
			}
			wantG, _ := c.op.VJP(ctx, x, v, nil)
			gotG, err := r.VJP(ctx, x, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(t, gotG, wantG); d > 1e-5 {
				t.Errorf("gradient through ApplyGraph differs from VJP by %.3g", d)
			}
		})
	}
}

// TestConvolutionOrientation: blurring a delta reproduces the kernel itself (not its mirror)
// around the delta, the convolution (not correlation) convention.
func TestConvolutionOrientation(t *testing.T) {
	k := &Kernel{H: 3, W: 3, K: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	op, _ := NewKernelBlurFrom(k)
	x := batch.New(1, 5, 5, 1)
	x.Set(0, 2, 2, 0, 1)
	y, _ := op.Apply(ctx, x, nil)
	for a := range 3 {
		for b := range 3 {
			if got := y.At(0, 1+a, 1+b, 0); got != float32(k.At(a, b)) {
				t.Errorf("y[%d,%d] = %v, want k[%d,%d] = %v", 1+a, 1+b, got, a, b, k.At(a, b))
			}
		}
	}
}

func TestGaussianKernel(t *testing.T) {
	op, _ := NewGaussianBlur(GaussianBlurConfig{Size: 33, Sigma: 1.5})
	k := op.kernel
	if s := k.Sum(); math.Abs(s-1) > 1e-12 {
		t.Errorf("kernel sums to %v", s)
	}
	// Ratio of neighbours from the closed form exp(-d²/2σ²): k[16,17]/k[16,16] = exp(-1/4.5).
	if r := k.At(16, 17) / k.At(16, 16); math.Abs(r-math.Exp(-1/4.5)) > 1e-12 {
		t.Errorf("k[16,17]/k[16,16] = %v, want %v", r, math.Exp(-1/4.5))
	}
	if r := k.At(15, 17) / k.At(16, 16); math.Abs(r-math.Exp(-2/4.5)) > 1e-12 {
		t.Errorf("diagonal ratio = %v, want %v", r, math.Exp(-2/4.5))
	}
}

// TestMotionKernel checks the rasterized path: sum 1, 180-degree symmetry, and second moments
// (a uniform segment of length L has variance L²/12; bilinear splatting adds about 1/6).
func TestMotionKernel(t *testing.T) {
	cases := []struct {
		angle               float64
		varRow, varCol, cov float64 // expected moments about the center, pixels²
		tolVar, tolCov      float64
	}{
		{0, 0, 81.0/12 + 1.0/6, 0, 0.3, 1e-9},
		{90, 81.0/12 + 1.0/6, 0, 0, 0.3, 1e-9},
		{45, 81.0/24 + 1.0/6, 81.0/24 + 1.0/6, -81.0 / 24, 0.3, 0.3},
	}
	for _, c := range cases {
		k := motionKernel(9, c.angle)
		if k.H%2 != 1 || k.H != k.W {
			t.Errorf("angle %v: kernel %dx%d is not odd and square", c.angle, k.H, k.W)
		}
		if s := k.Sum(); math.Abs(s-1) > 1e-12 {
			t.Errorf("angle %v: sum %v", c.angle, s)
		}
		ctr := float64(k.H-1) / 2
		var vr, vc, cv float64
		for a := range k.H {
			for b := range k.W {
				w := k.At(a, b)
				if d := w - k.At(k.H-1-a, k.W-1-b); math.Abs(d) > 1e-12 {
					t.Fatalf("angle %v: kernel not symmetric at (%d,%d)", c.angle, a, b)
				}
				vr += w * (float64(a) - ctr) * (float64(a) - ctr)
				vc += w * (float64(b) - ctr) * (float64(b) - ctr)
				cv += w * (float64(a) - ctr) * (float64(b) - ctr)
			}
		}
		if math.Abs(vr-c.varRow) > c.tolVar || math.Abs(vc-c.varCol) > c.tolVar || math.Abs(cv-c.cov) > c.tolCov {
			t.Errorf("angle %v: moments (row %.3f, col %.3f, cov %.3f), want (%.3f, %.3f, %.3f)",
				c.angle, vr, vc, cv, c.varRow, c.varCol, c.cov)
		}
	}
}

func TestKernelFiles(t *testing.T) {
	dir := t.TempDir()
	taps := []float32{0, 1, 0, 1, 4, 1, 0, 1, 0} // sum 8
	npyPath := filepath.Join(dir, "k.npy")
	if err := npy.WriteFile(npyPath, []int{3, 3}, taps); err != nil {
		t.Fatal(err)
	}
	g8 := image.NewGray(image.Rect(0, 0, 3, 3))
	g16 := image.NewGray16(image.Rect(0, 0, 3, 3))
	for i, v := range taps {
		g8.Pix[i] = uint8(v * 50)
		g16.SetGray16(i%3, i/3, color.Gray16{Y: uint16(v * 10000)})
	}
	write := func(name string, enc func(f *os.File) error) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := enc(f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := []string{
		npyPath,
		write("k8.png", func(f *os.File) error { return png.Encode(f, g8) }),
		write("k16.png", func(f *os.File) error { return png.Encode(f, g16) }),
		write("k16.tif", func(f *os.File) error { return tiff.Encode(f, g16, nil) }),
	}
	for _, p := range files {
		op, err := NewKernelBlur(KernelBlurConfig{Path: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, v := range taps {
			if got := op.kernel.K[i]; math.Abs(got-float64(v)/8) > 1e-12 {
				t.Errorf("%s: tap %d = %v, want %v (normalized to sum 1)", filepath.Base(p), i, got, v/8)
			}
		}
	}
	raw, err := NewKernelBlur(KernelBlurConfig{Path: npyPath, Normalize: "none"})
	if err != nil || raw.kernel.K[4] != 4 {
		t.Errorf("normalize none: %v, %v", raw, err)
	}

	zero := filepath.Join(dir, "zero.npy")
	npy.WriteFile(zero, []int{3, 3}, make([]float32, 9))
	cube := filepath.Join(dir, "cube.npy")
	npy.WriteFile(cube, []int{2, 2, 2}, make([]float32, 8))
	bad := []struct {
		cfg  KernelBlurConfig
		want string
	}{
		{KernelBlurConfig{Path: filepath.Join(dir, "missing.npy")}, "missing.npy"},
		{KernelBlurConfig{Path: zero}, "zero.npy: taps sum to 0"},
		{KernelBlurConfig{Path: cube}, "cube.npy: array has shape [2 2 2]"},
		{KernelBlurConfig{Path: filepath.Join(dir, "k.jpg")}, `k.jpg: unknown kernel format ".jpg"`},
		{KernelBlurConfig{Path: files[1], Normalize: "none"}, "k8.png: normalize: none needs a .npy kernel"},
	}
	for _, c := range bad {
		_, err := NewKernelBlur(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want it to contain %q", c.cfg, err, c.want)
		}
	}
}
