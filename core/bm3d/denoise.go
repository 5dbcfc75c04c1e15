package bm3d

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Denoise returns the BM3D estimate of the h x w image img (row-major, one channel), in the
// image's units. img is not modified. The image must be at least as large as the blocks of
// both stages (8 x 8 for the normal profile, 11 x 11 above sigma = 40/255 of Peak).
func Denoise(ctx context.Context, img []float32, h, w int, opt Options) ([]float32, error) {
	r, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	return r.denoise(ctx, img, h, w)
}

// Basic returns only the stage-1 (hard-thresholding) estimate, for inspection and tests.
func Basic(ctx context.Context, img []float32, h, w int, opt Options) ([]float32, error) {
	r, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	z, err := r.scaleIn(img, h, w)
	if err != nil {
		return nil, err
	}
	basic, err := r.stage(ctx, r.params.HT, false, z, nil, h, w)
	if err != nil {
		return nil, err
	}
	return r.scaleOut(basic), nil
}

// DenoiseBatch denoises every image and every channel of b independently (see the package
// doc) and returns a new batch of the same shape.
func DenoiseBatch(ctx context.Context, b *batch.Batch, opt Options) (*batch.Batch, error) {
	r, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	out := batch.New(b.N, b.H, b.W, b.C)
	plane := make([]float32, b.H*b.W)
	for n := 0; n < b.N; n++ {
		for c := 0; c < b.C; c++ {
			for i := range plane {
				plane[i] = b.Data[(n*b.H*b.W+i)*b.C+c]
			}
			est, err := r.denoise(ctx, plane, b.H, b.W)
			if err != nil {
				return nil, fmt.Errorf("image %d channel %d: %w", n, c, err)
			}
			for i, v := range est {
				out.Data[(n*b.H*b.W+i)*b.C+c] = v
			}
		}
	}
	return out, nil
}

func (r resolved) denoise(ctx context.Context, img []float32, h, w int) ([]float32, error) {
	z, err := r.scaleIn(img, h, w)
	if err != nil {
		return nil, err
	}
	basic, err := r.stage(ctx, r.params.HT, false, z, nil, h, w)
	if err != nil {
		return nil, err
	}
	final, err := r.stage(ctx, r.params.Wiener, true, z, basic, h, w)
	if err != nil {
		return nil, err
	}
	return r.scaleOut(final), nil
}

func (r resolved) stage(ctx context.Context, p StageParams, wiener bool, z, basic []float32, h, w int) ([]float32, error) {
	s, err := newStage(p, wiener, z, basic, h, w, r.sigma)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, r.workers)
}

// scaleIn checks the image and returns it on the [0, 255] scale.
func (r resolved) scaleIn(img []float32, h, w int) ([]float32, error) {
	if h < 1 || w < 1 || len(img) != h*w {
		return nil, fmt.Errorf("bm3d: an %dx%d image needs %d values, got %d", h, w, max(h, 0)*max(w, 0), len(img))
	}
	need := max(r.params.HT.BlockSize, r.params.Wiener.BlockSize)
	if h < need || w < need {
		return nil, fmt.Errorf("bm3d: the image is %dx%d, smaller than the %dx%d blocks; BM3D needs at least %dx%d pixels",
			h, w, need, need, need, need)
	}
	z := make([]float32, len(img))
	s := float32(r.scale)
	for i, v := range img {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("bm3d: pixel (%d, %d) is %v; BM3D needs finite values", i/w, i%w, v)
		}
		z[i] = v * s
	}
	return z, nil
}

func (r resolved) scaleOut(est []float32) []float32 {
	s := float32(1 / r.scale)
	for i := range est {
		est[i] *= s
	}
	return est
}
