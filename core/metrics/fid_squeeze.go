package metrics

import (
	"context"
	"fmt"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// FID and KID on ImageNet features the project already has: the SqueezeNet-1.1 trunk inside
// the LPIPS weights (metric.lpips). An image's feature vector is the spatial mean of the
// trunk's last tap (fire module 9 of squeezenet1_1().features, 512 channels, after ReLU), the
// input prepared as LPIPS prepares it (gray copied to R, G, B; ((2x-1) - shift) / scale):
//
//	f(x) = mean_{h,w} SqueezeNet-1.1 tap 7 of x'          [512]
//
// then FrechetDistance and KernelDistance as for the MNIST classifier (fid.go; KID's cubic
// kernel uses d = 512). Inception-v3, the network of the original FID (Heusel et al. 2017) and
// KID (Bińkowski et al. 2018), is not used: its weights are not part of the project and
// nothing is fetched at run time. So these distances compare with each other only, never with
// published FIDs; hence the names. FID's bias grows as d/n: with 512 features, compare sets of
// equal size, 1000 images or more. Images must be at least 17x17 pixels.

// squeezeFeatureTap is the tap whose spatial mean is the feature vector.
const squeezeFeatureTap = lpipsTaps - 1

// SqueezeFeatures returns f(x) above for every image of b: [N][512].
func (m *LPIPS) SqueezeFeatures(ctx context.Context, b *batch.Batch) ([][]float64, error) {
	if b.C != 1 && b.C != 3 {
		return nil, fmt.Errorf("squeezenet features need 1 or 3 channels, got %d", b.C)
	}
	if err := m.net.checkInputSize(b.H, b.W); err != nil {
		return nil, err
	}
	out := make([][]float64, b.N)
	err := parallelImages(ctx, b.N, func() func(i int) {
		var a arena
		return func(i int) {
			a.reset()
			f := m.net.features(m.prepare(b.Image(i), &a), &a)[squeezeFeatureTap]
			v := make([]float64, f.c)
			for p := range f.h * f.w {
				for c := range f.c {
					v[c] += float64(f.d[p*f.c+c])
				}
			}
			for c := range v {
				v[c] /= float64(f.h * f.w)
			}
			out[i] = v
		}
	})
	return out, err
}

// SqueezeFID is metric.fid_squeezenet; SqueezeKID is metric.kid_squeezenet.
type (
	SqueezeFID struct{ f *squeezeFeaturizer }
	SqueezeKID struct{ f *squeezeFeaturizer }
)

// squeezeFeaturizer computes set features, keeping those of the last reference set: a run
// compares every estimate with the same reference batch (thousands of images), whose
// features are then computed once. The cache is keyed on the batch's identity and contents
// length, so a caller must not change a reference batch in place between calls.
type squeezeFeaturizer struct {
	m       *LPIPS
	mu      sync.Mutex
	ref     *batch.Batch
	refLen  int
	refFeat [][]float64
}

func (s *squeezeFeaturizer) sets(ctx context.Context, id string, ref, img *batch.Batch) ([][]float64, [][]float64, error) {
	if err := checkSets(id, ref, img, fidMinSet); err != nil {
		return nil, nil, err
	}
	if err := s.m.net.checkInputSize(img.H, img.W); err != nil {
		return nil, nil, &UnavailableError{ID: id, Reason: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ref != ref || s.refLen != len(ref.Data) {
		fr, err := s.m.SqueezeFeatures(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		s.ref, s.refLen, s.refFeat = ref, len(ref.Data), fr
	}
	fg, err := s.m.SqueezeFeatures(ctx, img)
	return s.refFeat, fg, err
}

// CompareSets implements SetMetric.
func (s SqueezeFID) CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error) {
	fr, fg, err := s.f.sets(ctx, "metric.fid_squeezenet", ref, img)
	if err != nil {
		return 0, err
	}
	return FrechetDistance(fr, fg)
}

// CompareSets implements SetMetric.
func (s SqueezeKID) CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error) {
	fr, fg, err := s.f.sets(ctx, "metric.kid_squeezenet", ref, img)
	if err != nil {
		return 0, err
	}
	return KernelDistance(fr, fg), nil
}

// HigherIsBetter implements SetMetric.
func (SqueezeFID) HigherIsBetter() bool { return false }

// HigherIsBetter implements SetMetric.
func (SqueezeKID) HigherIsBetter() bool { return false }

// MinSetSize implements SetMetric.
func (SqueezeFID) MinSetSize() int { return fidMinSet }

// MinSetSize implements SetMetric.
func (SqueezeKID) MinSetSize() int { return fidMinSet }

func init() {
	load := func(id string, c any) (*LPIPS, error) {
		path, err := FindLPIPSWeights(c.(*LPIPSConfig).Weights)
		if err != nil {
			return nil, err
		}
		m, err := LoadLPIPS(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		return m, nil
	}
	registry.Register(registry.Entry{
		ID: "metric.fid_squeezenet", Kind: registry.KindMetric,
		Summary: "Fréchet distance of SqueezeNet-1.1 features (the LPIPS trunk, spatial mean of its last tap) between two image sets (not comparable with Inception FID; needs the LPIPS weights)",
		Config:  func() any { return &LPIPSConfig{} },
		New: func(_ context.Context, c any) (any, error) {
			m, err := load("metric.fid_squeezenet", c)
			return SqueezeFID{&squeezeFeaturizer{m: m}}, err
		},
	})
	registry.Register(registry.Entry{
		ID: "metric.kid_squeezenet", Kind: registry.KindMetric,
		Summary: "kernel distance (unbiased MMD², cubic kernel) of SqueezeNet-1.1 features (the LPIPS trunk) between two image sets (needs the LPIPS weights)",
		Config:  func() any { return &LPIPSConfig{} },
		New: func(_ context.Context, c any) (any, error) {
			m, err := load("metric.kid_squeezenet", c)
			return SqueezeKID{&squeezeFeaturizer{m: m}}, err
		},
	})
}

var (
	_ part.SetMetric = SqueezeFID{}
	_ part.SetMetric = SqueezeKID{}
)
