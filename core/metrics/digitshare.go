package metrics

import (
	"context"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// DigitShare is metric.digit_share_mnist_classifier: the share of a set's images that the
// project's MNIST classifier reads as some digit with confidence >= DigitConfidence (its
// largest softmax probability; Classifier.Confidence). It answers "does the prior draw
// digits?" next to FID's "how far is the set from the reference". Clean test digits score
// 0.92; the classifier (a small MLP) is overconfident off its training distribution, so pure
// noise still scores 0.39 and the stroke blobs of an undertrained prior about 0.4-0.5
// (TestDigitShare, docs/metrics.md): the share is a necessary check, not a sufficient one, and
// is read together with FID.
//
// It is a set metric so that the evaluate stage computes it on every image set it has (prior
// samples, posterior samples, DPS restorations, observations) next to FID and KID; the
// reference set is checked for shape and size only, and does not enter the value. Higher is
// better, up to the clean images' own share.
type DigitShare struct{ cls *Classifier }

// DigitConfidence is the classifier confidence above which an image counts as a digit.
const DigitConfidence = 0.9

// CompareSets implements SetMetric: the share of img read with confidence >= DigitConfidence.
func (m DigitShare) CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error) {
	const id = "metric.digit_share_mnist_classifier"
	if !classifierApplies(ref) || !classifierApplies(img) {
		return 0, &UnavailableError{ID: id, Reason: fmt.Sprintf("the MNIST classifier reads 28x28 grayscale images, got %dx%dx%d", img.H, img.W, img.C)}
	}
	if err := checkSets(id, ref, img, 1); err != nil {
		return 0, err
	}
	conf, err := m.cls.Confidence(img)
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

// HigherIsBetter implements SetMetric.
func (DigitShare) HigherIsBetter() bool { return true }

// MinSetSize implements SetMetric.
func (DigitShare) MinSetSize() int { return 1 }

func init() {
	registry.Register(registry.Entry{
		ID: "metric.digit_share_mnist_classifier", Kind: registry.KindMetric,
		Summary: fmt.Sprintf("share of a set's images the project's MNIST classifier reads as a digit with confidence >= %.1f "+
			"(clean test digits about 0.9, noise near 0; 28x28 gray only); the reference set does not enter the value", DigitConfidence),
		Config: func() any { return &SetMetricConfig{} },
		New: func(context.Context, any) (any, error) {
			c, err := MNISTClassifier()
			if err != nil {
				return nil, &UnavailableError{ID: "metric.digit_share_mnist_classifier", Reason: err.Error()}
			}
			return DigitShare{c}, nil
		},
	})
}

var _ part.SetMetric = DigitShare{}
