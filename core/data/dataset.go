package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Dataset is a set of clean images with optional labels and a name for each image.
type Dataset struct {
	// Images holds the images in NHWC layout, normalized to [0, 1] (see the package doc).
	Images *batch.Batch
	// Labels holds one class label per image, or is nil when the source has none.
	Labels []int
	// Names names each image's origin: a file name (with "#patch" suffixes for patches),
	// "mnist/train/123", or "synthetic/seed=7/3".
	Names []string
	// Source says where the whole set came from, for messages ("mnist train in DIR").
	Source string
}

// Len is the number of images.
func (d *Dataset) Len() int {
	if d == nil || d.Images == nil {
		return 0
	}
	return d.Images.N
}

// Take returns the first n images, sharing memory with d. It returns an error, rather than
// fewer images, when d holds fewer than n.
func (d *Dataset) Take(n int) (*Dataset, error) {
	if n <= 0 {
		return nil, fmt.Errorf("take %d images from %s: count must be positive", n, d.Source)
	}
	if n > d.Len() {
		return nil, fmt.Errorf("take %d images: only %d exist in %s", n, d.Len(), d.Source)
	}
	out := &Dataset{Images: d.Images.Slice(0, n), Names: d.Names[:n:n], Source: d.Source}
	if d.Labels != nil {
		out.Labels = d.Labels[:n:n]
	}
	return out, nil
}

// Subset returns a new dataset (a copy) with the images at idx, in that order.
func (d *Dataset) Subset(idx []int) (*Dataset, error) {
	if len(idx) == 0 {
		return nil, fmt.Errorf("subset of %s: no indices", d.Source)
	}
	for _, i := range idx {
		if i < 0 || i >= d.Len() {
			return nil, fmt.Errorf("subset of %s: index %d out of range [0,%d)", d.Source, i, d.Len())
		}
	}
	out := &Dataset{Images: d.Images.Gather(idx), Names: make([]string, len(idx)), Source: d.Source}
	if d.Labels != nil {
		out.Labels = make([]int, len(idx))
	}
	for j, i := range idx {
		out.Names[j] = d.Names[i]
		if d.Labels != nil {
			out.Labels[j] = d.Labels[i]
		}
	}
	return out, nil
}

// Split divides d into a training and a test set, copying the images. The nTest test images
// are a uniformly random subset chosen by a permutation drawn from seed; both parts keep the
// original order of d. Both parts must be non-empty: 0 < nTest < d.Len().
func (d *Dataset) Split(nTest int, seed int64) (train, test *Dataset, err error) {
	n := d.Len()
	if nTest <= 0 || nTest >= n {
		return nil, nil, fmt.Errorf("split %s: test count %d must be in [1,%d] for %d images",
			d.Source, nTest, n-1, n)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5d1f)).Perm(n)
	testIdx := slices.Clone(perm[:nTest])
	trainIdx := slices.Clone(perm[nTest:])
	slices.Sort(testIdx)
	slices.Sort(trainIdx)
	if train, err = d.Subset(trainIdx); err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	if test, err = d.Subset(testIdx); err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	train.Source = d.Source + " (train split)"
	test.Source = d.Source + " (test split)"
	return train, test, nil
}

// SplitFraction is Split with nTest = round(testFraction * d.Len()); testFraction must lie in
// (0, 1) and leave at least one image on each side.
func (d *Dataset) SplitFraction(testFraction float64, seed int64) (train, test *Dataset, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("split %s: test fraction %v must be in (0,1)", d.Source, testFraction)
	}
	return d.Split(int(math.Round(testFraction*float64(d.Len()))), seed)
}

// Concat stacks datasets with equal image shapes. Labels are kept only when every part has them.
func Concat(parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("concat of no datasets")
	}
	bs := make([]*batch.Batch, len(parts))
	out := &Dataset{Labels: []int{}}
	for i, p := range parts {
		bs[i] = p.Images
		out.Names = append(out.Names, p.Names...)
		if p.Labels == nil {
			out.Labels = nil
		} else if out.Labels != nil {
			out.Labels = append(out.Labels, p.Labels...)
		}
		if i > 0 {
			out.Source += " + "
		}
		out.Source += p.Source
	}
	imgs, err := batch.Concat(bs...)
	if err != nil {
		return nil, fmt.Errorf("concat datasets: %w", err)
	}
	out.Images = imgs
	return out, nil
}

// validate checks that the parts of d agree; loaders call it before returning.
func (d *Dataset) validate() error {
	if d.Images == nil || !d.Images.Valid() {
		return fmt.Errorf("dataset %s has no images", d.Source)
	}
	if len(d.Images.Data) != d.Images.Size() {
		return fmt.Errorf("dataset %s: %d values for shape %s", d.Source, len(d.Images.Data), d.Images.Shape)
	}
	if len(d.Names) != d.Images.N {
		return fmt.Errorf("dataset %s: %d names for %d images", d.Source, len(d.Names), d.Images.N)
	}
	if d.Labels != nil && len(d.Labels) != d.Images.N {
		return fmt.Errorf("dataset %s: %d labels for %d images", d.Source, len(d.Labels), d.Images.N)
	}
	return nil
}
