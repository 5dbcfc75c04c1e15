package metrics

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// DigitConfidence is the classifier confidence at or above which an image counts as a digit.
const DigitConfidence = 0.9

// DigitShare returns the share of the images of b that the project's MNIST classifier reads
// as some digit with confidence >= DigitConfidence (its largest softmax probability;
// Classifier.Confidence). It answers "does the prior draw digits?" next to FID's "how far is
// the set from the reference". Clean test digits score 0.92; the classifier (a small MLP) is
// overconfident away from digits, so pure noise still scores 0.39 and the stroke blobs of an
// undertrained prior about 0.4-0.5 (TestDigitShare, docs/metrics.md): the share is a necessary
// check, not a sufficient one, and is read together with FID.
//
// It is not a registered metric: it compares a set with nothing, so the evaluate stage records
// it by itself for every 28x28 grayscale image set (digit_share_mnist_classifier.<set>, the
// clean test images included as "clean"). Images the classifier cannot read give an
// UnavailableError.
func DigitShare(b *batch.Batch) (float64, error) {
	const id = "digit share"
	if b == nil || b.N == 0 {
		return 0, &UnavailableError{ID: id, Reason: "no images"}
	}
	if !classifierApplies(b) {
		return 0, &UnavailableError{ID: id, Reason: fmt.Sprintf("the MNIST classifier reads 28x28 grayscale images, got %dx%dx%d", b.H, b.W, b.C)}
	}
	c, err := MNISTClassifier()
	if err != nil {
		return 0, &UnavailableError{ID: id, Reason: err.Error()}
	}
	conf, err := c.Confidence(b)
	if err != nil {
		return 0, err
	}
	sure := 0
	for _, p := range conf {
		if p >= DigitConfidence {
			sure++
		}
	}
	return float64(sure) / float64(len(conf)), nil
}
