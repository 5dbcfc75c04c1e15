package bm3d

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBior15MatchesReference compares our bior1.5 matrix with the 8 x 8 matrix hard-coded in
// the reference BM3D.m (getTransfMatrix, "hardcoded transform so that the wavelet toolbox is
// not needed"), rows 1-4 (rows 0 and 5-7 are the constant and shifted Haar rows).
func TestBior15MatchesReference(t *testing.T) {
	const a, b, c, d, h = 0.219417649252501, 0.449283757993216, 0.569359398342846, 0.402347308162278, 0.083506045090284
	want := [][]float64{
		{a, b, b, a, -a, -b, -b, -a},
		{c, d, -d, -c, -h, h, -h, h},
		{-h, h, -h, h, c, d, -d, -c},
		{math.Sqrt2 / 2, -math.Sqrt2 / 2, 0, 0, 0, 0, 0, 0},
	}
	f := bior15Matrix(8)
	for r, row := range want {
		for col, v := range row {
			if got := f[(r+1)*8+col]; math.Abs(got-v) > 1e-12 {
				t.Errorf("bior1.5[%d][%d] = %.15f, reference %.15f", r+1, col, got, v)
			}
		}
	}
	for col := 0; col < 8; col++ {
		if got := f[col]; math.Abs(got-1/math.Sqrt(8)) > 1e-12 {
			t.Errorf("bior1.5[0][%d] = %v, want 1/sqrt(8)", col, got)
		}
	}
}

// TestDCTMatrix checks the DCT against BM3D.m's hard-coded dct(eye(8)) entries and its
// orthonormality.
func TestDCTMatrix(t *testing.T) {
	f := dctMatrix(8)
	for _, c := range []struct {
		k, j int
		v    float64
	}{{1, 0, 0.490392640201615}, {2, 1, 0.191341716182545}, {3, 2, -0.490392640201615}, {7, 7, -0.097545161008064}} {
		if got := f[c.k*8+c.j]; math.Abs(got-c.v) > 1e-12 {
			t.Errorf("dct[%d][%d] = %.15f, reference %.15f", c.k, c.j, got, c.v)
		}
	}
	for _, n := range []int{8, 11, 12} {
		f := dctMatrix(n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += f[i*n+k] * f[j*n+k]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(s-want) > 1e-12 {
					t.Fatalf("dct %d: row %d . row %d = %v, want %v", n, i, j, s, want)
				}
			}
		}
	}
}

// TestTransformRoundTrip: inverse(forward(B)) = B for every transform and size used, and the
// DCT preserves energy (orthonormal). Tolerances are float32 rounding of an 8- to 16-term sum.
func TestTransformRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		n    int
	}{{TransformBior15, 8}, {TransformBior15, 16}, {TransformDCT, 8}, {TransformDCT, 11}, {TransformDCT, 12}} {
		tr, err := newTransform2D(c.name, c.n)
		if err != nil {
			t.Fatal(err)
		}
		n, w := c.n, c.n+5 // the block sits in a wider image: exercises the row stride
		img := make([]float32, n*w)
		for i := range img {
			img[i] = float32(rng.NormFloat64() * 50)
		}
		coef := make([]float32, (w-n+1)*n*n)
		tr.forwardRow(img, w, 0, coef, make([]float32, n*w), make([]float32, 2*n*n))
		for bx := 0; bx+n <= w; bx++ {
			back := make([]float32, n*n)
			tr.inverse(coef[bx*n*n:(bx+1)*n*n], back, make([]float32, 2*n*n))
			var ein, eout float64
			for y := 0; y < n; y++ {
				for x := 0; x < n; x++ {
					v := img[y*w+bx+x]
					if d := math.Abs(float64(back[y*n+x] - v)); d > 1e-3 {
						t.Fatalf("%s %d: block %d pixel (%d,%d): round trip %v, want %v", c.name, n, bx, y, x, back[y*n+x], v)
					}
					ein += float64(v * v)
				}
			}
			for _, v := range coef[bx*n*n : (bx+1)*n*n] {
				eout += float64(v * v)
			}
			if c.name == TransformDCT && math.Abs(eout/ein-1) > 1e-5 {
				t.Errorf("%s %d: energy ratio %v, want 1 (orthonormal)", c.name, n, eout/ein)
			}
		}
	}
}

// TestHaarRoundTrip: the Haar transform along the group is orthonormal and invertible, and a
// constant group has a single non-zero coefficient, sqrt(m) times the constant.
func TestHaarRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const nb = 5
	for _, m := range []int{1, 2, 4, 8, 16, 32} {
		g := make([]float32, m*nb)
		var e0 float64
		for i := range g {
			g[i] = float32(rng.NormFloat64())
			e0 += float64(g[i] * g[i])
		}
		orig := append([]float32(nil), g...)
		tmp := make([]float32, m*nb)
		haarForward(g, m, nb, tmp)
		var e1 float64
		for _, v := range g {
			e1 += float64(v * v)
		}
		if math.Abs(e1/e0-1) > 1e-5 {
			t.Errorf("m=%d: energy ratio %v, want 1", m, e1/e0)
		}
		haarInverse(g, m, nb, tmp)
		for i, v := range g {
			if math.Abs(float64(v-orig[i])) > 1e-5 {
				t.Fatalf("m=%d: round trip [%d] = %v, want %v", m, i, v, orig[i])
			}
		}
		for i := range g {
			g[i] = 2
		}
		haarForward(g, m, nb, tmp)
		for i, v := range g {
			want := 0.0
			if i < nb {
				want = 2 * math.Sqrt(float64(m))
			}
			if math.Abs(float64(v)-want) > 1e-5 {
				t.Fatalf("m=%d: constant group coefficient [%d] = %v, want %v", m, i, v, want)
			}
		}
	}
}

// TestKaiser compares with BM3D.m's hard-coded 8 x 8 window for beta = 2 (4 decimals).
func TestKaiser(t *testing.T) {
	w := kaiser2D(8, 2)
	for _, c := range []struct {
		i int
		v float64
	}{{0, 0.1924}, {1, 0.2989}, {3, 0.4325}, {9, 0.4642}, {27, 0.9718}, {63, 0.1924}} {
		if math.Abs(float64(w[c.i])-c.v) > 5e-5 {
			t.Errorf("kaiser[%d] = %.5f, reference %.4f", c.i, w[c.i], c.v)
		}
	}
}

func TestFrequencyOrder(t *testing.T) {
	for _, n := range []int{1, 8, 11} {
		o := frequencyOrder(n)
		seen := make([]bool, n*n)
		for _, k := range o {
			if seen[k] {
				t.Fatalf("n=%d: index %d twice", n, k)
			}
			seen[k] = true
		}
		if len(o) != n*n || o[0] != 0 || (n > 1 && o[1] != 1) {
			t.Errorf("n=%d: order starts %v (len %d), want DC first and all %d indices", n, o[:min(3, len(o))], len(o), n*n)
		}
	}
}
