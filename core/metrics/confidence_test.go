package metrics

import (
	"math"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/data"
)

// TestClassifierConfidence checks Confidence on the held-out MNIST test images 0..1999: every
// value is a probability no smaller than 1/10 (the largest of 10 softmax outputs); the images
// the classifier gets right are read more surely than those it gets wrong; and pure noise
// images are rarely read with confidence >= 0.9, clean digits mostly so.
func TestClassifierConfidence(t *testing.T) {
	ds, err := data.LoadMNIST("", "test", ClassifierHeldOut)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	c, err := MNISTClassifier()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := c.Confidence(ds.Images)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := c.Predict(ds.Images)
	var right, wrong, nr, nw float64
	sure := 0
	for i, p := range conf {
		if p < 0.1-1e-9 || p > 1+1e-9 || math.IsNaN(p) {
			t.Fatalf("image %d: confidence %v outside [0.1, 1]", i, p)
		}
		if p >= 0.9 {
			sure++
		}
		if pred[i] == ds.Labels[i] {
			right, nr = right+p, nr+1
		} else {
			wrong, nw = wrong+p, nw+1
		}
	}
	cleanSure := float64(sure) / float64(len(conf))
	t.Logf("clean held-out: %.3f with confidence >= 0.9; mean confidence right %.3f, wrong %.3f", cleanSure, right/nr, wrong/nw)
	if right/nr <= wrong/nw {
		t.Errorf("mean confidence of right predictions %.3f <= wrong ones %.3f", right/nr, wrong/nw)
	}
	// Noise images (seeded; sigma 10 clipped to [0,1]: random black and white pixels): a
	// classifier that reads them as surely as digits is broken.
	noise := noisy(ds.Images.Slice(0, 500), 10, 7)
	nc, _ := c.Confidence(noise)
	nsure := 0
	for _, p := range nc {
		if p >= 0.9 {
			nsure++
		}
	}
	if f := float64(nsure) / float64(len(nc)); f >= cleanSure/2 {
		t.Errorf("noise images: %.3f with confidence >= 0.9, clean %.3f; want under half the clean share", f, cleanSure)
	}
}
