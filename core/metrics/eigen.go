package metrics

import (
	"fmt"
	"math"
)

// symEigen returns the eigenvalues and eigenvectors of the symmetric n x n matrix a (row-major;
// only its symmetric part is used), by the cyclic Jacobi method (Golub & Van Loan, "Matrix
// Computations", 4th ed., Algorithm 8.5.3): plane rotations zero the off-diagonal entries one
// at a time until their Frobenius norm falls below 1e-14 of the matrix's, which converges
// quadratically. vecs is row-major with eigenvector k in column k, so a = V diag(vals) Vᵀ.
// Cost O(n³) per sweep, a handful of sweeps; meant for the small feature covariances of FID.
func symEigen(a []float64, n int) (vals, vecs []float64, err error) {
	if len(a) != n*n {
		return nil, nil, fmt.Errorf("symEigen: %d entries for a %dx%d matrix", len(a), n, n)
	}
	m := make([]float64, n*n)
	for i := range n {
		for j := range n {
			m[i*n+j] = 0.5 * (a[i*n+j] + a[j*n+i])
		}
	}
	v := make([]float64, n*n)
	for i := range n {
		v[i*n+i] = 1
	}
	var total float64
	for _, x := range m {
		total += x * x
	}
	tol := 1e-28 * total
	const maxSweeps = 100
	for sweep := 0; ; sweep++ {
		var off float64
		for i := range n {
			for j := i + 1; j < n; j++ {
				off += 2 * m[i*n+j] * m[i*n+j]
			}
		}
		if off <= tol || off == 0 {
			break
		}
		if sweep == maxSweeps {
			return nil, nil, fmt.Errorf("symEigen: no convergence after %d sweeps (off-diagonal norm %g)", maxSweeps, math.Sqrt(off))
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := m[p*n+q]
				if apq == 0 {
					continue
				}
				// The rotation (c, s) that zeroes m[p,q] (Golub & Van Loan, Algorithm 8.5.1).
				tau := (m[q*n+q] - m[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(tau) + math.Sqrt(1+tau*tau))
				if tau < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(1+t*t)
				s := t * c
				for k := range n { // m <- m J (columns p, q)
					mkp, mkq := m[k*n+p], m[k*n+q]
					m[k*n+p], m[k*n+q] = c*mkp-s*mkq, s*mkp+c*mkq
				}
				for k := range n { // m <- Jᵀ m (rows p, q)
					mpk, mqk := m[p*n+k], m[q*n+k]
					m[p*n+k], m[q*n+k] = c*mpk-s*mqk, s*mpk+c*mqk
				}
				for k := range n { // v <- v J
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p], v[k*n+q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	vals = make([]float64, n)
	for i := range n {
		vals[i] = m[i*n+i]
	}
	return vals, v, nil
}

// sqrtPSD returns the symmetric square root V diag(sqrt(max(λ,0))) Vᵀ of the symmetric
// positive semi-definite n x n matrix a; eigenvalues below 0 (rounding) count as 0.
func sqrtPSD(a []float64, n int) ([]float64, error) {
	vals, v, err := symEigen(a, n)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n*n)
	for k := range n {
		r := math.Sqrt(max(vals[k], 0))
		if r == 0 {
			continue
		}
		for i := range n {
			vik := v[i*n+k] * r
			for j := range n {
				out[i*n+j] += vik * v[j*n+k]
			}
		}
	}
	return out, nil
}

// matMul returns the product of n x n row-major matrices a and b.
func matMul(a, b []float64, n int) []float64 {
	out := make([]float64, n*n)
	for i := range n {
		for k := range n {
			aik := a[i*n+k]
			for j := range n {
				out[i*n+j] += aik * b[k*n+j]
			}
		}
	}
	return out
}
