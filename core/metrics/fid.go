package metrics

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// FID is metric.fid_mnist_classifier: the Fréchet distance (Heusel et al. 2017, eq. 6)
// between Gaussian fits of the MNIST classifier's 32 penultimate features (see Classifier) of
// two image sets,
//
//	FID = ||mu_r - mu_g||² + tr(S_r) + tr(S_g) - 2 tr((S_r^½ S_g S_r^½)^½)
//
// with sample means mu and covariances S (divisor n-1). The trace term uses the symmetric form
// of tr((S_r S_g)^½), computed with two symmetric eigen decompositions (Jacobi; small negative
// eigenvalues from rounding count as 0). Lower is better; 0 for identical sets. Its bias grows
// as the sets shrink (about d/n), so compare FIDs only at equal set sizes.
type FID struct{ cls *Classifier }

// KID is metric.kid_mnist_classifier: the kernel inception distance (Bińkowski et al. 2018) on
// the same features: the unbiased estimate of the squared maximum mean discrepancy with the
// cubic polynomial kernel k(a, b) = (aᵀb/d + 1)³, d = 32,
//
//	KID = Σ_{i≠j} k(r_i,r_j)/(m(m-1)) + Σ_{i≠j} k(g_i,g_j)/(n(n-1)) - 2 Σ_{i,j} k(r_i,g_j)/(mn)
//
// over the whole sets (no subsets). Unbiased, so it is about 0 (and may be negative) for two
// samples of one distribution, whatever the set sizes. Lower is better.
type KID struct{ cls *Classifier }

// fidMinSet is the smallest set FID and KID accept (KID's unbiased terms need 2 images).
const fidMinSet = 2

// CompareSets implements SetMetric.
func (m FID) CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error) {
	fr, fg, err := setFeatures(m.cls, "metric.fid_mnist_classifier", ref, img)
	if err != nil {
		return 0, err
	}
	return FrechetDistance(fr, fg)
}

// CompareSets implements SetMetric.
func (m KID) CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error) {
	fr, fg, err := setFeatures(m.cls, "metric.kid_mnist_classifier", ref, img)
	if err != nil {
		return 0, err
	}
	return KernelDistance(fr, fg), nil
}

// HigherIsBetter implements SetMetric.
func (FID) HigherIsBetter() bool { return false }

// HigherIsBetter implements SetMetric.
func (KID) HigherIsBetter() bool { return false }

// MinSetSize implements SetMetric.
func (FID) MinSetSize() int { return fidMinSet }

// MinSetSize implements SetMetric.
func (KID) MinSetSize() int { return fidMinSet }

// setFeatures checks the sets and returns their classifier features. Images that are not
// 28x28 grayscale make the metric unavailable (not zero).
func setFeatures(c *Classifier, id string, ref, img *batch.Batch) ([][]float64, [][]float64, error) {
	if !classifierApplies(ref) || !classifierApplies(img) {
		return nil, nil, &UnavailableError{ID: id, Reason: fmt.Sprintf("the MNIST classifier reads 28x28 grayscale images, got %dx%dx%d", img.H, img.W, img.C)}
	}
	if err := checkSets(id, ref, img, fidMinSet); err != nil {
		return nil, nil, err
	}
	fr, err := c.Features(ref)
	if err != nil {
		return nil, nil, err
	}
	fg, err := c.Features(img)
	return fr, fg, err
}

// meanCov returns the mean and the sample covariance (divisor n-1) of the rows of f.
func meanCov(f [][]float64) (mu, cov []float64) {
	d := len(f[0])
	mu = make([]float64, d)
	for _, r := range f {
		for k, v := range r {
			mu[k] += v / float64(len(f))
		}
	}
	cov = make([]float64, d*d)
	for _, r := range f {
		for i := range d {
			di := r[i] - mu[i]
			for j := i; j < d; j++ {
				cov[i*d+j] += di * (r[j] - mu[j])
			}
		}
	}
	for i := range d {
		for j := i; j < d; j++ {
			v := cov[i*d+j] / float64(len(f)-1)
			cov[i*d+j], cov[j*d+i] = v, v
		}
	}
	return mu, cov
}

// FrechetDistance is the Fréchet distance between Gaussian fits of two feature sets (rows of
// equal length, at least 2 rows each); see FID.
func FrechetDistance(a, b [][]float64) (float64, error) {
	if len(a) < 2 || len(b) < 2 || len(a[0]) != len(b[0]) {
		return 0, fmt.Errorf("frechet distance: need two sets of at least 2 feature rows of equal length")
	}
	d := len(a[0])
	mu1, s1 := meanCov(a)
	mu2, s2 := meanCov(b)
	var dist float64
	for k := range mu1 {
		dist += (mu1[k] - mu2[k]) * (mu1[k] - mu2[k])
	}
	r1, err := sqrtPSD(s1, d)
	if err != nil {
		return 0, err
	}
	mid := matMul(matMul(r1, s2, d), r1, d)
	vals, _, err := symEigen(mid, d)
	if err != nil {
		return 0, err
	}
	var trSqrt float64
	for _, v := range vals {
		trSqrt += math.Sqrt(max(v, 0))
	}
	for i := range d {
		dist += s1[i*d+i] + s2[i*d+i]
	}
	return max(0, dist-2*trSqrt), nil
}

// KernelDistance is the unbiased MMD² with the cubic polynomial kernel; see KID. Each set needs
// at least 2 rows.
func KernelDistance(a, b [][]float64) float64 {
	d := float64(len(a[0]))
	k := func(x, y []float64) float64 {
		var s float64
		for i, v := range x {
			s += v * y[i]
		}
		s = s/d + 1
		return s * s * s
	}
	within := func(f [][]float64) float64 {
		var s float64
		for i := range f {
			for j := i + 1; j < len(f); j++ {
				s += 2 * k(f[i], f[j])
			}
		}
		n := float64(len(f))
		return s / (n * (n - 1))
	}
	var cross float64
	for _, x := range a {
		for _, y := range b {
			cross += k(x, y)
		}
	}
	return within(a) + within(b) - 2*cross/float64(len(a)*len(b))
}

// SetMetricConfig is the config of the MNIST-classifier set metrics (none yet: the classifier
// is embedded).
type SetMetricConfig struct{}

func init() {
	newCls := func(id string) (*Classifier, error) {
		c, err := MNISTClassifier()
		if err != nil {
			return nil, &UnavailableError{ID: id, Reason: err.Error()}
		}
		return c, nil
	}
	registry.Register(registry.Entry{
		ID: "metric.fid_mnist_classifier", Kind: registry.KindMetric,
		Summary: "Fréchet distance of the project's MNIST classifier features between two image sets (28x28 gray only; not comparable with Inception FID)",
		Config:  func() any { return &SetMetricConfig{} },
		New: func(context.Context, any) (any, error) {
			c, err := newCls("metric.fid_mnist_classifier")
			return FID{c}, err
		},
	})
	registry.Register(registry.Entry{
		ID: "metric.kid_mnist_classifier", Kind: registry.KindMetric,
		Summary: "kernel distance (unbiased MMD², cubic kernel) of the project's MNIST classifier features between two image sets (28x28 gray only)",
		Config:  func() any { return &SetMetricConfig{} },
		New: func(context.Context, any) (any, error) {
			c, err := newCls("metric.kid_mnist_classifier")
			return KID{c}, err
		},
	})
}

var (
	_ part.SetMetric = FID{}
	_ part.SetMetric = KID{}
)
