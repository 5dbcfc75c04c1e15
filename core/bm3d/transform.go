package bm3d

import (
	"fmt"
	"math"
)

// transform2D is a separable 2D block transform C = F B F^T of n x n blocks, with the inverse
// B = G C G^T, G = F^-1. Matrices are row-major n x n.
//
// Coefficients are stored in "frequency order", not row-major: stored position p holds
// C[order[p]/n][order[p]%n], with (k, l) sorted by k+l and then k, so that the coarse
// coefficients, which carry most of a block's energy, come first and block matching can stop
// a distance early. Every operation on stored coefficients other than the inverse is
// elementwise (Haar along the group, thresholding, Wiener), so the order only matters there.
type transform2D struct {
	n        int
	fwd, inv []float32
	order    []int
	f8, g8   mat8 // fwd and inv when n == 8, for the unrolled kernels
}

// frequencyOrder lists the row-major indices of an n x n array sorted by k+l, then k.
func frequencyOrder(n int) []int {
	order := make([]int, 0, n*n)
	for d := 0; d <= 2*(n-1); d++ {
		for k := max(0, d-n+1); k <= min(d, n-1); k++ {
			order = append(order, k*n+d-k)
		}
	}
	return order
}

func newTransform2D(name string, n int) (*transform2D, error) {
	var f []float64
	switch name {
	case TransformDCT:
		f = dctMatrix(n)
	case TransformBior15:
		if n < 2 || n&(n-1) != 0 {
			return nil, fmt.Errorf("bm3d: bior1.5 needs a power-of-2 block size, got %d", n)
		}
		f = bior15Matrix(n)
	default:
		return nil, fmt.Errorf("bm3d: unknown 2D transform %q", name)
	}
	g, err := invert(f, n)
	if err != nil {
		return nil, fmt.Errorf("bm3d: %s %dx%d: %w", name, n, n, err)
	}
	t := &transform2D{n: n, fwd: toFloat32(f), inv: toFloat32(g), order: frequencyOrder(n)}
	if n == 8 {
		for i := range 8 {
			copy(t.f8[i][:], t.fwd[i*8:i*8+8])
			copy(t.g8[i][:], t.inv[i*8:i*8+8])
		}
	}
	return t, nil
}

// dctMatrix is the orthonormal DCT-II: F[k][j] = a_k cos(pi (2j+1) k / (2n)), a_0 = sqrt(1/n),
// a_k = sqrt(2/n) (MATLAB's dct(eye(n))).
func dctMatrix(n int) []float64 {
	f := make([]float64, n*n)
	for k := 0; k < n; k++ {
		a := math.Sqrt(2 / float64(n))
		if k == 0 {
			a = math.Sqrt(1 / float64(n))
		}
		for j := 0; j < n; j++ {
			f[k*n+j] = a * math.Cos(math.Pi*float64((2*j+1)*k)/float64(2*n))
		}
	}
	return f
}

// bior15Lo and bior15Hi are the analysis filters of the biorthogonal spline wavelet 1.5
// (MATLAB wfilters('bior1.5'), PyWavelets "bior1.5" dec_lo/dec_hi): the low-pass is
// sqrt(2)/256 * [3 -3 -22 22 128 128 22 -22 -3 3], the high-pass the Haar difference.
var (
	bior15Lo = [10]float64{3, -3, -22, 22, 128, 128, 22, -22, -3, 3}
	bior15Hi = [10]float64{0, 0, 0, 0, -1, 1, 0, 0, 0, 0}
)

// bior15Matrix is the matrix of the full dyadic bior1.5 decomposition of length-n signals with
// periodic extension (MATLAB wavedec with dwtmode('per')), coefficients ordered
// [a_L, d_L, d_{L-1}, ..., d_1] and each row scaled to unit l2 norm, as BM3D.m's
// getTransfMatrix builds it. One analysis level maps x (length m) to
// a[k] = sum_j lo[j] x[(2k+5-j) mod m] and d[k] likewise with hi.
func bior15Matrix(n int) []float64 {
	var lo, hi [10]float64
	for j := range lo {
		lo[j] = bior15Lo[j] * math.Sqrt2 / 256
		hi[j] = bior15Hi[j] / math.Sqrt2
	}
	f := make([]float64, n*n)
	for col := 0; col < n; col++ {
		x := make([]float64, n)
		x[col] = 1
		out := make([]float64, n) // details fill from the end, the last approximation goes first
		end := n
		for m := n; m > 1; m /= 2 {
			a := make([]float64, m/2)
			for k := 0; k < m/2; k++ {
				var sa, sd float64
				for j := range lo {
					v := x[((2*k+5-j)%m+m)%m]
					sa += lo[j] * v
					sd += hi[j] * v
				}
				a[k] = sa
				out[end-m/2+k] = sd
			}
			end -= m / 2
			x = a
		}
		out[0] = x[0]
		for r := 0; r < n; r++ {
			f[r*n+col] = out[r]
		}
	}
	for r := 0; r < n; r++ {
		var s float64
		for c := 0; c < n; c++ {
			s += f[r*n+c] * f[r*n+c]
		}
		s = math.Sqrt(s)
		for c := 0; c < n; c++ {
			f[r*n+c] /= s
		}
	}
	return f
}

// invert returns the inverse of the n x n matrix a by Gauss-Jordan elimination with partial
// pivoting.
func invert(a []float64, n int) ([]float64, error) {
	m := append([]float64(nil), a...)
	inv := make([]float64, n*n)
	for i := 0; i < n; i++ {
		inv[i*n+i] = 1
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r*n+c]) > math.Abs(m[p*n+c]) {
				p = r
			}
		}
		if math.Abs(m[p*n+c]) < 1e-12 {
			return nil, fmt.Errorf("singular transform matrix")
		}
		for k := 0; k < n; k++ {
			m[c*n+k], m[p*n+k] = m[p*n+k], m[c*n+k]
			inv[c*n+k], inv[p*n+k] = inv[p*n+k], inv[c*n+k]
		}
		d := m[c*n+c]
		for k := 0; k < n; k++ {
			m[c*n+k] /= d
			inv[c*n+k] /= d
		}
		for r := 0; r < n; r++ {
			if r == c || m[r*n+c] == 0 {
				continue
			}
			f := m[r*n+c]
			for k := 0; k < n; k++ {
				m[r*n+k] -= f * m[c*n+k]
				inv[r*n+k] -= f * inv[c*n+k]
			}
		}
	}
	return inv, nil
}

func toFloat32(a []float64) []float32 {
	out := make([]float32, len(a))
	for i, v := range a {
		out[i] = float32(v)
	}
	return out
}

// haarForward applies the orthonormal 1D Haar transform, full decomposition, along the group
// g of m blocks of nb coefficients each (g[j*nb+c], m a power of 2), in place; tmp holds m*nb
// values. Output order is [a, d_L, ..., d_1] as for the wavelet above.
func haarForward(g []float32, m, nb int, tmp []float32) {
	const r = 1 / math.Sqrt2
	for l := m; l > 1; l /= 2 {
		h := l / 2
		for i := 0; i < h; i++ {
			a, b := g[2*i*nb:(2*i+1)*nb], g[(2*i+1)*nb:(2*i+2)*nb]
			sa, sd := tmp[i*nb:(i+1)*nb], tmp[(h+i)*nb:(h+i+1)*nb]
			for c := range a {
				sa[c] = (a[c] + b[c]) * r
				sd[c] = (a[c] - b[c]) * r
			}
		}
		copy(g[:l*nb], tmp[:l*nb])
	}
}

// haarInverse undoes haarForward.
func haarInverse(g []float32, m, nb int, tmp []float32) {
	const r = 1 / math.Sqrt2
	for l := 2; l <= m; l *= 2 {
		h := l / 2
		for i := 0; i < h; i++ {
			sa, sd := g[i*nb:(i+1)*nb], g[(h+i)*nb:(h+i+1)*nb]
			a, b := tmp[2*i*nb:(2*i+1)*nb], tmp[(2*i+1)*nb:(2*i+2)*nb]
			for c := range sa {
				a[c] = (sa[c] + sd[c]) * r
				b[c] = (sa[c] - sd[c]) * r
			}
		}
		copy(g[:l*nb], tmp[:l*nb])
	}
}

// kaiser2D is the n x n outer product of the Kaiser window
// k[i] = I0(beta sqrt(1 - (2i/(n-1) - 1)^2)) / I0(beta) (MATLAB kaiser(n, beta)).
func kaiser2D(n int, beta float64) []float32 {
	k := make([]float64, n)
	for i := range k {
		if n == 1 {
			k[i] = 1
			continue
		}
		t := 2*float64(i)/float64(n-1) - 1
		k[i] = besselI0(beta*math.Sqrt(1-t*t)) / besselI0(beta)
	}
	w := make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			w[i*n+j] = float32(k[i] * k[j])
		}
	}
	return w
}

// besselI0 is the modified Bessel function of the first kind of order 0, by its power series
// sum_k ((x/2)^k / k!)^2 (converges fast for the small arguments used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}
