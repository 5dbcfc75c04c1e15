package metrics

import (
	"context"
	"math"
	"testing"
)

// TestSqueezeFIDKID checks metric.fid_squeezenet and metric.kid_squeezenet on held-out MNIST
// images (28x28: the trunk accepts 17x17 and up): FID of a set with itself is 0 (to 1e-6
// relative to the noisy sets' FID), FID grows with the noise added (sigma 0.1, 0.3), and KID
// between two halves of the clean images (one distribution) is below a tenth of KID between a
// clean half and a noisy (sigma 0.3) one. Same structure as TestFIDKIDOnMNIST.
func TestSqueezeFIDKID(t *testing.T) {
	if testing.Short() {
		t.Skip("512x512 eigen decompositions")
	}
	m := testLPIPS(t)
	ctx := context.Background()
	clean := mnistHeldOut(t, 400)
	a, b := clean.Slice(0, 200), clean.Slice(200, 400)
	fid, kid := SqueezeFID{&squeezeFeaturizer{m: m}}, SqueezeKID{&squeezeFeaturizer{m: m}}
	self, err := fid.CompareSets(ctx, a, a)
	if err != nil {
		t.Fatal(err)
	}
	f1, _ := fid.CompareSets(ctx, a, noisy(b, 0.1, 3))
	f3, _ := fid.CompareSets(ctx, a, noisy(b, 0.3, 3))
	t.Logf("FID self %.3g, sigma 0.1 %.4g, sigma 0.3 %.4g", self, f1, f3)
	// The reference features are cached after the first call: a fresh metric agrees exactly.
	if fresh, _ := (SqueezeFID{&squeezeFeaturizer{m: m}}).CompareSets(ctx, a, noisy(b, 0.3, 3)); fresh != f3 {
		t.Errorf("FID with cached reference features %v, fresh %v", f3, fresh)
	}
	if math.Abs(self) > 1e-6*f3 || !(f1 < f3) {
		t.Errorf("FID: self %v (want 0), sigma 0.1 %v < sigma 0.3 %v expected", self, f1, f3)
	}
	same, _ := kid.CompareSets(ctx, a, b)
	far, _ := kid.CompareSets(ctx, a, noisy(b, 0.3, 3))
	t.Logf("KID halves %.4g, noisy half %.4g", same, far)
	if !(math.Abs(same) < far/10) {
		t.Errorf("KID between clean halves %v, want below a tenth of %v (clean vs noisy)", same, far)
	}
	if _, err := fid.CompareSets(ctx, clean.Slice(0, 1), clean.Slice(1, 2)); err == nil {
		t.Error("FID of one image per set: no error")
	}
}
