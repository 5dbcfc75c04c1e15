package bm3d

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// chunkRefRows is the number of reference rows aggregated into one buffer; fixed, so that
// the order of summation, hence the output, does not depend on the number of workers.
const chunkRefRows = 4

// maxBandBytes bounds the memory of the precomputed block transforms: a large image is
// processed in horizontal bands whose transforms fit (with a search-window overlap). The
// bands do not change the output. A variable so that tests can force several bands.
var maxBandBytes = 256 << 20

// stage is one pass of BM3D over a plane on the [0, 255] scale.
type stage struct {
	p      StageParams
	wiener bool
	tr     *transform2D
	n, nb  int     // block side N1 and N1^2
	sigma  float32 // noise std, [0, 255] scale
	thr2D  float32 // lambda_2D * sigma
	thr3D  float32 // lambda_3D * sigma
	tau    float32 // TauMatch * N1^2: the threshold on the summed squared distance
	hs     int     // half search window
	win    []float32
	h, w   int
	bh, bw int // block positions per column and row
	noisy  []float32
	basic  []float32 // the basic estimate (stage 2 only)
	refY   []int
	refX   []int

	// The band being processed: block rows [by0, by1); arrays of (by1-by0)*bw blocks of nb
	// coefficients. nT: T2D of noisy blocks; bT: of basic blocks (stage 2); mT: what matching
	// compares (nT, its 2D-thresholded copy, or bT).
	by0, by1   int
	nT, bT, mT []float32
}

func newStage(p StageParams, wiener bool, noisy, basic []float32, h, w int, sigma float64) (*stage, error) {
	tr, err := newTransform2D(p.Transform, p.BlockSize)
	if err != nil {
		return nil, err
	}
	n := p.BlockSize
	s := &stage{p: p, wiener: wiener, tr: tr, n: n, nb: n * n, sigma: float32(sigma),
		thr2D: float32(p.Lambda2D * sigma), thr3D: float32(p.Lambda3D * sigma),
		tau: float32(p.TauMatch * float64(n*n)), hs: (p.Search - 1) / 2, win: kaiser2D(n, p.Beta),
		h: h, w: w, bh: h - n + 1, bw: w - n + 1, noisy: noisy, basic: basic}
	s.refY, s.refX = positions(s.bh, p.Step), positions(s.bw, p.Step)
	return s, nil
}

// positions are 0, step, 2 step, ... and the last position n-1.
func positions(n, step int) []int {
	var p []int
	for i := 0; i < n; i += step {
		p = append(p, i)
	}
	if p[len(p)-1] != n-1 {
		p = append(p, n-1)
	}
	return p
}

// blockIndex is the index of block (y, x) in the band arrays.
func (s *stage) blockIndex(y, x int) int { return (y-s.by0)*s.bw + x }

// accum is one chunk's aggregation buffers over image rows [y0, y0+rows).
type accum struct {
	y0, rows int
	num, den []float64
}

// run performs the stage with the given number of workers and returns the aggregated estimate.
func (s *stage) run(ctx context.Context, workers int) ([]float32, error) {
	num := make([]float64, s.h*s.w)
	den := make([]float64, s.h*s.w)
	nChunks := (len(s.refY) + chunkRefRows - 1) / chunkRefRows
	arrays := 1
	if s.wiener || s.thr2D > 0 {
		arrays = 2
	}
	maxRows := max(maxBandBytes/(s.bw*s.nb*4*arrays), 2*s.hs+1+chunkRefRows*s.p.Step)
	for c0 := 0; c0 < nChunks; {
		first := s.refY[c0*chunkRefRows]
		lo := max(0, first-s.hs)
		c1 := c0 + 1
		for c1 < nChunks && min(s.bh, s.refY[min(len(s.refY), (c1+1)*chunkRefRows)-1]+s.hs+1)-lo <= maxRows {
			c1++
		}
		last := s.refY[min(len(s.refY), c1*chunkRefRows)-1]
		if err := s.prepareBand(ctx, workers, lo, min(s.bh, last+s.hs+1)); err != nil {
			return nil, err
		}
		if err := s.runChunks(ctx, workers, c0, c1, num, den); err != nil {
			return nil, err
		}
		c0 = c1
	}
	out := make([]float32, s.h*s.w)
	for i := range out {
		out[i] = float32(num[i] / den[i])
	}
	return out, nil
}

// prepareBand computes the 2D transforms of the blocks of rows [lo, hi).
func (s *stage) prepareBand(ctx context.Context, workers, lo, hi int) error {
	s.by0, s.by1 = lo, hi
	size := (hi - lo) * s.bw * s.nb
	grow := func(a []float32) []float32 {
		if cap(a) < size {
			return make([]float32, size)
		}
		return a[:size]
	}
	s.nT = grow(s.nT)
	s.mT = s.nT
	if s.wiener {
		s.bT = grow(s.bT)
		s.mT = s.bT
	} else if s.thr2D > 0 {
		s.bT = grow(s.bT) // holds the thresholded copy used for matching
		s.mT = s.bT
	}
	var next atomic.Int64
	next.Store(int64(lo))
	return parallel(ctx, workers, func() error {
		tmp, v := make([]float32, 2*s.nb), make([]float32, s.n*s.w)
		for {
			y := int(next.Add(1) - 1)
			if y >= hi {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			row := s.blockIndex(y, 0) * s.nb
			nT := s.nT[row : row+s.bw*s.nb]
			s.tr.forwardRow(s.noisy, s.w, y, nT, v, tmp)
			switch {
			case s.wiener:
				s.tr.forwardRow(s.basic, s.w, y, s.bT[row:row+s.bw*s.nb], v, tmp)
			case s.thr2D > 0:
				for k, c := range nT {
					if c < s.thr2D && c > -s.thr2D {
						c = 0
					}
					s.bT[row+k] = c
				}
			}
		}
	})
}

// runChunks processes chunks [c0, c1) with the workers and adds their buffers into num and
// den in chunk order.
func (s *stage) runChunks(ctx context.Context, workers, c0, c1 int, num, den []float64) error {
	var (
		mu     sync.Mutex
		done   = make([]*accum, c1-c0)
		merged = c0
		free   []*accum
	)
	finish := func(c int, a *accum) {
		mu.Lock()
		defer mu.Unlock()
		done[c-c0] = a
		for merged < c1 && done[merged-c0] != nil {
			b := done[merged-c0]
			done[merged-c0] = nil
			off := b.y0 * s.w
			for i, v := range b.num {
				num[off+i] += v
				den[off+i] += b.den[i]
			}
			free = append(free, b)
			merged++
		}
	}
	take := func(y0, rows int) *accum {
		mu.Lock()
		var a *accum
		if k := len(free); k > 0 {
			a, free = free[k-1], free[:k-1]
		}
		mu.Unlock()
		size := rows * s.w
		if a == nil || cap(a.num) < size {
			a = &accum{num: make([]float64, size), den: make([]float64, size)}
		}
		a.y0, a.rows, a.num, a.den = y0, rows, a.num[:size], a.den[:size]
		clear(a.num)
		clear(a.den)
		return a
	}
	var next atomic.Int64
	next.Store(int64(c0))
	return parallel(ctx, workers, func() error {
		sc := newScratch(s)
		for {
			c := int(next.Add(1) - 1)
			if c >= c1 {
				return nil
			}
			rows := s.refY[c*chunkRefRows : min(len(s.refY), (c+1)*chunkRefRows)]
			y0 := max(0, rows[0]-s.hs)
			a := take(y0, min(s.h, rows[len(rows)-1]+s.hs+s.n)-y0)
			for _, ry := range rows {
				if err := ctx.Err(); err != nil {
					return err
				}
				for _, rx := range s.refX {
					s.filter(ry, rx, sc, a)
				}
			}
			finish(c, a)
		}
	})
}

// parallel runs f in workers goroutines and returns the first error.
func parallel(ctx context.Context, workers int, f func() error) error {
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Go(func() { errs[k] = f() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("bm3d: %w", err)
		}
	}
	return nil
}
