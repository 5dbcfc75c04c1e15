package metrics

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// TestFrechetDiagonal checks FrechetDistance against its closed form for independent features
// (diagonal covariances): Σ_k (mu1_k-mu2_k)² + (sqrt(v1_k) - sqrt(v2_k))², with the sample
// moments computed here by hand. 1e-9 relative.
func TestFrechetDiagonal(t *testing.T) {
	const n, d = 4000, 4
	// Features with a fixed pattern per dimension so the sample covariance is exactly diagonal:
	// each dimension k takes values ±s_k on a pattern orthogonal to the others' (Walsh-like).
	mk := func(shift, scale float64) [][]float64 {
		f := make([][]float64, n)
		for i := range f {
			f[i] = make([]float64, d)
			for k := range d {
				sign := 1.0
				if (i>>k)&1 == 1 {
					sign = -1
				}
				f[i][k] = shift + scale*float64(k+1)*sign
			}
		}
		return f
	}
	a, b := mk(0, 1), mk(0.5, 2)
	var want float64
	for k := range d {
		// mean difference 0.5; population std (k+1)·scale, sample variance n/(n-1) times that².
		s1 := float64(k+1) * math.Sqrt(float64(n)/float64(n-1))
		s2 := 2 * s1
		want += 0.25 + (s1-s2)*(s1-s2)
	}
	got, err := FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-9*want {
		t.Errorf("FrechetDistance = %.12g, want %.12g", got, want)
	}
}

// mnistHeldOut returns the first n MNIST test images (held out from the classifier's training).
func mnistHeldOut(t *testing.T, n int) *batch.Batch {
	t.Helper()
	ds, err := data.LoadMNIST("", "test", n)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	return ds.Images
}

func noisy(b *batch.Batch, sigma float64, seed uint64) *batch.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := b.Clone()
	for i := range out.Data {
		out.Data[i] = float32(min(1, max(0, float64(out.Data[i])+sigma*rng.NormFloat64())))
	}
	return out
}

// TestFIDKIDOnMNIST: FID of a set with itself is 0 (to 1e-6), FID grows with the noise added
// to a set (sigma 0.1, 0.2, 0.5), KID too from 0.2 to 0.5, and KID between the two halves of the
// held-out images (one distribution) is near 0: below a tenth of KID between the halves when
// sigma 0.2 noise is added to one. (KID of a set against a slightly noisy copy of itself can
// be negative: the unbiased within-set terms leave out the pairs i = j that the cross term keeps.)
func TestFIDKIDOnMNIST(t *testing.T) {
	imgs := mnistHeldOut(t, 1000)
	ctx := context.Background()
	fid, err := BuildSet(ctx, "metric.fid_mnist_classifier")
	if err != nil {
		t.Fatal(err)
	}
	kid, err := BuildSet(ctx, "metric.kid_mnist_classifier")
	if err != nil {
		t.Fatal(err)
	}
	self, err := fid.CompareSets(ctx, imgs, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if self > 1e-6 {
		t.Errorf("FID of a set with itself = %g, want ~0", self)
	}
	prevF, prevK := 0.0, 0.0
	for _, sigma := range []float64{0.1, 0.2, 0.5} {
		n := noisy(imgs, sigma, 3)
		f, err := fid.CompareSets(ctx, imgs, n)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kid.CompareSets(ctx, imgs, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sigma %.2f: FID %.4f KID %.5f", sigma, f, k)
		if !(f > prevF) || (sigma > 0.1 && !(k > prevK && k > 0)) {
			t.Errorf("sigma %.2f: FID %.4g, KID %.4g do not grow (previous %.4g, %.4g)", sigma, f, k, prevF, prevK)
		}
		prevF, prevK = f, k
	}
	k0, err := kid.CompareSets(ctx, imgs.Slice(0, 500), imgs.Slice(500, 1000))
	if err != nil {
		t.Fatal(err)
	}
	kNoisy, err := kid.CompareSets(ctx, imgs.Slice(0, 500), noisy(imgs.Slice(500, 1000), 0.2, 4))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("KID of the two halves %.5f; with sigma 0.2 noise on one half %.5f", k0, kNoisy)
	if math.Abs(k0) > 0.1*kNoisy {
		t.Errorf("KID of two halves of one distribution %.5g is not near 0 (sigma 0.2 noise gives %.5g)", k0, kNoisy)
	}
}

// TestKIDUnbiased: the mean KID of 200 pairs of independent samples of one Gaussian feature
// distribution (sets of 20, where a biased MMD² would be clearly positive) is within 3
// standard errors of 0.
func TestKIDUnbiased(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	set := func(n int) [][]float64 {
		f := make([][]float64, n)
		for i := range f {
			f[i] = make([]float64, 8)
			for k := range f[i] {
				f[i][k] = 1 + rng.NormFloat64()
			}
		}
		return f
	}
	var vals []float64
	for range 200 {
		vals = append(vals, KernelDistance(set(20), set(20)))
	}
	s := Summarize(vals)
	t.Logf("mean KID %.5f ± %.5f", s.Mean, s.StdErr)
	if math.Abs(s.Mean) > 3*s.StdErr {
		t.Errorf("mean KID over same-distribution pairs %.5g, more than 3 standard errors (%.3g) from 0", s.Mean, s.StdErr)
	}
}

// TestSetMetricsUnavailable: images that are not 28x28 grayscale make FID and KID unavailable,
// an error matching ErrUnavailable, never a value; Build on a set metric names the reason.
func TestSetMetricsUnavailable(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"metric.fid_mnist_classifier", "metric.kid_mnist_classifier"} {
		m, err := BuildSet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []batch.Shape{{N: 4, H: 32, W: 32, C: 1}, {N: 4, H: 28, W: 28, C: 3}} {
			a := batch.New(s.N, s.H, s.W, s.C)
			if v, err := m.CompareSets(ctx, a, a); !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s on %s: value %v, err %v; want unavailable", id, s, v, err)
			}
		}
		one := batch.New(1, 28, 28, 1)
		if _, err := m.CompareSets(ctx, one, one); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s on single images: err %v, want unavailable", id, err)
		}
		if _, err := Build(ctx, id); !errors.Is(err, ErrSetMetric) {
			t.Errorf("Build(%s): err %v, want ErrSetMetric", id, err)
		}
	}
}

// TestClassifierAccuracy checks the embedded classifier on the held-out MNIST test images
// 0..1999 (never trained on): at least 92% correct (the file was made with 93.85%).
func TestClassifierAccuracy(t *testing.T) {
	ds, err := data.LoadMNIST("", "test", ClassifierHeldOut)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	c, err := MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	pred, err := c.Predict(ds.Images)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i, p := range pred {
		if p == ds.Labels[i] {
			right++
		}
	}
	acc := float64(right) / float64(len(pred))
	t.Logf("held-out accuracy %.4f", acc)
	if acc < 0.92 {
		t.Errorf("held-out accuracy %.4f < 0.92", acc)
	}
}

// TestClassifierReproducible retrains the classifier as `go generate ./core/metrics` does and
// checks it equals the embedded file byte for byte (amd64 only: other architectures may fuse
// multiply-adds and round differently).
func TestClassifierReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the classifier (several seconds)")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the embedded file was made on amd64; %s may round differently", runtime.GOARCH)
	}
	ds, err := data.LoadMNIST("", "test", 0)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	c, err := TrainClassifier(context.Background(), ds.Images.Slice(ClassifierHeldOut, ds.Len()), ds.Labels[ClassifierHeldOut:], ClassifierTraining{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), classifierFile) {
		t.Error("retraining did not reproduce assets/mnist_mlp.bin; if the training code changed on purpose, run `go generate ./core/metrics`")
	}
}
