package metrics

import (
	"errors"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// TestDigitShare checks DigitShare on sets whose answer is known: the held-out clean MNIST test
// images (TestClassifierConfidence measures 0.905 of them read with confidence >= 0.9) score at
// least 0.85 (measured 0.921); pure noise and digits drowned in noise score under half that
// (measured 0.394 and 0.400: the small MLP is overconfident on noise, which is why the prior
// check pairs this share with FID); a set the classifier cannot read is unavailable, not zero.
func TestDigitShare(t *testing.T) {
	ds, err := data.LoadMNIST("", "test", ClassifierHeldOut)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	clean := ds.Images.Slice(0, 1000)
	share := func(name string, b *batch.Batch) float64 {
		v, err := DigitShare(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: digit share %.3f", name, v)
		return v
	}
	if v := share("clean", clean); v < 0.85 {
		t.Errorf("clean digits: share %.3f, want >= 0.85", v)
	}
	if v := share("noise", noisy(clean.Slice(0, 500), 10, 3)); v >= 0.46 {
		t.Errorf("noise images: share %.3f, want < 0.46 (half the clean digits' share)", v)
	}
	if v := share("digits under noise sigma 1", noisy(clean.Slice(0, 500), 1, 4)); v >= 0.46 {
		t.Errorf("digits under sigma-1 noise: share %.3f, want < 0.46", v)
	}
	for _, b := range []*batch.Batch{batch.New(4, 28, 28, 3), batch.New(4, 32, 32, 1), nil} {
		if _, err := DigitShare(b); !errors.As(err, new(*UnavailableError)) {
			t.Errorf("images %v: err %v, want an UnavailableError", b, err)
		}
	}
}
