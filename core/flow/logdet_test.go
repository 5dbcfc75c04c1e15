package flow

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestLogDetBruteForce checks the log-determinants of Generate and Inverse against the full
// Jacobian on tiny inputs, in float64 with perturbed weights: column i of J = ∂x/∂z is the
// central difference (G(z + h·eᵢ) - G(z - h·eᵢ))/2h, h = 1e-5, all 2D+1 points evaluated as one
// batch; log|det J| comes from an LU with partial pivoting in Go (logAbsDet). The truncation
// error of the differences is O(h²) ≈ 1e-10 relative and the round-off O(ε/h) ≈ 1e-11, so the
// log-determinants must agree within 1e-6. Inverse is checked the same way at x = G(z), and
// logdet(Inverse(x)) = -logdet(Generate(z)) within 1e-9.
func TestLogDetBruteForce(t *testing.T) {
	const (
		fdStep   = 1e-5
		tolBrute = 1e-6
		tolPair  = 1e-9
	)
	for i, tc := range []struct {
		name    string
		cfg     Config
		h, w, c int
	}{
		{"4x4x1/L1", Config{Levels: 1, Steps: 2, Hidden: 8, CondHidden: 4}, 4, 4, 1},
		{"4x4x2/L1", Config{Levels: 1, Steps: 2, Hidden: 8, CondHidden: 4}, 4, 4, 2},
		{"4x4x3/L1", Config{Levels: 1, Steps: 1, Hidden: 8, CondHidden: 4}, 4, 4, 3},
		{"4x4x1/L2/split", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4, Split: true}, 4, 4, 1},
		{"4x4x2/L2/nosplit", Config{Levels: 2, Steps: 1, Hidden: 8, CondHidden: 4}, 4, 4, 2},
		{"4x4x1/L2/level-steps", Config{Levels: 2, LevelSteps: []int{2, 1}, Hidden: 8, CondHidden: 4, Split: true}, 4, 4, 1},
		{"4x4x2/L2/squeeze-only-level", Config{Levels: 2, LevelSteps: []int{0, 3}, Hidden: 8, CondHidden: 4}, 4, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			dim := tc.h * tc.w * tc.c
			n := 2*dim + 1
			// One observation, repeated over the batch.
			one := gomlxtest.Flat64(gomlxtest.RandTensor(rng, dtypes.Float64, 1, 1, tc.h, tc.w, 1))
			condData := make([]float64, 0, n*tc.h*tc.w)
			for range n {
				condData = append(condData, one...)
			}
			cond := gomlxtest.FromFlat64(dtypes.Float64, condData, n, tc.h, tc.w, 1)
			z0 := gomlxtest.Flat64(normalTensor(rng, dtypes.Float64, 1, tc.h, tc.w, tc.c))
			f := newTestFlow(t, tc.cfg, uint64(30+i), perturbAmp, stencil(z0, fdStep, tc.h, tc.w, tc.c), cond)

			x, ldGen := f.run(f.gen, stencil(z0, fdStep, tc.h, tc.w, tc.c), cond)
			want := logAbsDet(jacobian(x, dim, fdStep), dim)
			t.Logf("logdet %.10g, brute force %.10g", ldGen[0], want)
			if math.Abs(ldGen[0]-want) > tolBrute {
				t.Errorf("Generate: logdet %.10g, brute-force log|det ∂x/∂z| %.10g (tolerance %g)", ldGen[0], want, tolBrute)
			}
			if math.Abs(ldGen[0]) < 0.1 {
				t.Errorf("Generate: logdet %.3g is near 0: the perturbation did not reach the scales", ldGen[0])
			}

			x0 := x[:dim]
			z, ldInv := f.run(f.inv, stencil(x0, fdStep, tc.h, tc.w, tc.c), cond)
			wantInv := logAbsDet(jacobian(z, dim, fdStep), dim)
			if math.Abs(ldInv[0]-wantInv) > tolBrute {
				t.Errorf("Inverse: logdet %.10g, brute-force log|det ∂z/∂x| %.10g (tolerance %g)", ldInv[0], wantInv, tolBrute)
			}
			if math.Abs(ldInv[0]+ldGen[0]) > tolPair {
				t.Errorf("logdet Inverse(G(z)) = %.12g, want -logdet G(z) = %.12g", ldInv[0], -ldGen[0])
			}
		})
	}
}

// stencil returns the batch [p, p + h·e₁, p - h·e₁, p + h·e₂, ...] of the point p, shaped
// [2·len(p)+1, h, w, c] in float64.
func stencil(p []float64, step float64, h, w, c int) *tensors.Tensor {
	dim := len(p)
	data := make([]float64, 0, (2*dim+1)*dim)
	data = append(data, p...)
	for i := range dim {
		for _, s := range []float64{step, -step} {
			start := len(data)
			data = append(data, p...)
			data[start+i] += s
		}
	}
	return gomlxtest.FromFlat64(dtypes.Float64, data, 2*dim+1, h, w, c)
}

// jacobian returns the dim x dim row-major Jacobian J[j][i] = ∂out_j/∂in_i from the outputs of a
// stencil batch (central differences).
func jacobian(out []float64, dim int, step float64) []float64 {
	j := make([]float64, dim*dim)
	for i := range dim {
		plus := out[(1+2*i)*dim : (2+2*i)*dim]
		minus := out[(2+2*i)*dim : (3+2*i)*dim]
		for r := range dim {
			j[r*dim+i] = (plus[r] - minus[r]) / (2 * step)
		}
	}
	return j
}
