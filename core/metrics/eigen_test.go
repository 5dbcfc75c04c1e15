package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestSymEigenKnown checks a 2x2 case by hand: [[2,1],[1,2]] has eigenvalues 1 and 3 with
// eigenvectors (1,-1)/√2 and (1,1)/√2.
func TestSymEigenKnown(t *testing.T) {
	vals, vecs, err := symEigen([]float64{2, 1, 1, 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]float64(nil), vals...)
	sort.Float64s(got)
	if math.Abs(got[0]-1) > 1e-14 || math.Abs(got[1]-3) > 1e-14 {
		t.Errorf("eigenvalues %v, want [1 3]", vals)
	}
	for k := range 2 {
		// A v = λ v for each column.
		for i := range 2 {
			av := 2*vecs[i*2+k] + vecs[(1-i)*2+k]
			if math.Abs(av-vals[k]*vecs[i*2+k]) > 1e-14 {
				t.Errorf("column %d is not an eigenvector", k)
			}
		}
	}
}

// TestSymEigenRandom checks A = V diag(λ) Vᵀ and VᵀV = I to 1e-10 on random symmetric
// matrices of several sizes, including a rank-deficient covariance, and that sqrtPSD squares
// back to the matrix.
func TestSymEigenRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 3, 8, 32} {
		a := make([]float64, n*n)
		for i := range n {
			for j := 0; j <= i; j++ {
				v := rng.NormFloat64()
				a[i*n+j], a[j*n+i] = v, v
			}
		}
		vals, v, err := symEigen(a, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			for j := range n {
				var rec, orth float64
				for k := range n {
					rec += v[i*n+k] * vals[k] * v[j*n+k]
					orth += v[k*n+i] * v[k*n+j]
				}
				if math.Abs(rec-a[i*n+j]) > 1e-10 {
					t.Fatalf("n=%d: reconstruction (%d,%d) = %g, want %g", n, i, j, rec, a[i*n+j])
				}
				if want := map[bool]float64{true: 1, false: 0}[i == j]; math.Abs(orth-want) > 1e-10 {
					t.Fatalf("n=%d: VᵀV (%d,%d) = %g", n, i, j, orth)
				}
			}
		}
		// A rank-deficient PSD matrix B Bᵀ, B of n x max(1,n/2).
		r := max(1, n/2)
		b := make([]float64, n*r)
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		c := make([]float64, n*n)
		for i := range n {
			for j := range n {
				for k := range r {
					c[i*n+j] += b[i*r+k] * b[j*r+k]
				}
			}
		}
		s, err := sqrtPSD(c, n)
		if err != nil {
			t.Fatal(err)
		}
		ss := matMul(s, s, n)
		for i := range c {
			if math.Abs(ss[i]-c[i]) > 1e-9*(1+math.Abs(c[i])) {
				t.Fatalf("n=%d: sqrtPSD² differs at %d: %g vs %g", n, i, ss[i], c[i])
			}
		}
	}
	if _, _, err := symEigen([]float64{1, 2, 3}, 2); err == nil {
		t.Error("wrong length accepted")
	}
}
