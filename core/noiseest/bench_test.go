package noiseest

import (
	"fmt"
	"testing"
)

// BenchmarkEstimate times each estimator, bootstrap included, on one noisy gradient image
// of several sides (figures in docs/noise-estimation.md).
func BenchmarkEstimate(b *testing.B) {
	for _, side := range []int{256, 512, 1024} {
		gauss := addGaussian(gradients(1, side, 1), 0.05, 2)
		pg := addPG(gradients(1, side, 1), 0.01, 1e-4, 3)
		for _, m := range Methods {
			b.Run(fmt.Sprintf("%s/%d", m, side), func(b *testing.B) {
				for b.Loop() {
					if _, err := EstimateGaussian(gauss, GaussianOptions{Method: m}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("poisson-gaussian/%d", side), func(b *testing.B) {
			for b.Loop() {
				if _, err := EstimatePoissonGaussian(pg, PGOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
