package bm3d

// scratch is one worker's reusable buffers.
type scratch struct {
	best   []cand
	gn, gb []float32 // groups: noisy coefficients, basic-estimate coefficients
	pix    []float32 // the group back in the pixel domain
	tmp    []float32 // Haar work space, MaxGroup*nb
	btmp   []float32 // 2D transform work space
}

func newScratch(s *stage) *scratch {
	g := s.p.MaxGroup * s.nb
	return &scratch{best: make([]cand, 0, s.p.MaxGroup), gn: make([]float32, g), gb: make([]float32, g), pix: make([]float32, g),
		tmp: make([]float32, g), btmp: make([]float32, 2*s.nb)}
}

// filter matches, filters and aggregates the group of reference block (ry, rx) into a.
func (s *stage) filter(ry, rx int, sc *scratch, a *accum) {
	var m int
	sc.best, m = s.match(ry, rx, sc.best)
	nb := s.nb
	gn := sc.gn[:m*nb]
	for j, c := range sc.best[:m] {
		copy(gn[j*nb:(j+1)*nb], s.nT[int(c.i)*nb:])
	}
	haarForward(gn, m, nb, sc.tmp)
	sigma2 := s.sigma * s.sigma
	var weight float32
	pix := sc.pix[:m*nb]
	if !s.wiener {
		// Hard thresholding; weight 1/(sigma^2 N_nonzero). The inverse 3D transform applies
		// the 2D inverse to each slice along the group first (the two commute), which a slice
		// with no coefficient left skips.
		thr := s.thr3D
		nz := 0
		for j := 0; j < m; j++ {
			slice := gn[j*nb : (j+1)*nb]
			nzSlice := 0
			for k, v := range slice {
				if v < thr && v > -thr {
					slice[k] = 0
				} else {
					nzSlice++
				}
			}
			if nzSlice == 0 {
				clear(pix[j*nb : (j+1)*nb])
			} else {
				s.tr.inverse(slice, pix[j*nb:(j+1)*nb], sc.btmp)
			}
			nz += nzSlice
		}
		weight = 1 / (sigma2 * float32(max(nz, 1)))
	} else {
		// Empirical Wiener shrinkage from the basic estimate; weight 1/(sigma^2 ||W||^2).
		gb := sc.gb[:m*nb]
		for j, c := range sc.best[:m] {
			copy(gb[j*nb:(j+1)*nb], s.bT[int(c.i)*nb:])
		}
		haarForward(gb, m, nb, sc.tmp)
		var wsum float32
		for k, b := range gb {
			b2 := b * b
			wk := b2 / (b2 + sigma2)
			gn[k] *= wk
			wsum += wk * wk
		}
		if wsum == 0 { // a group whose basic estimate is exactly zero
			wsum = 1
		}
		weight = 1 / (sigma2 * wsum)
		for j := 0; j < m; j++ {
			s.tr.inverse(gn[j*nb:(j+1)*nb], pix[j*nb:(j+1)*nb], sc.btmp)
		}
	}
	haarInverse(pix, m, nb, sc.tmp)
	for j, c := range sc.best[:m] {
		by, bx := s.by0+int(c.i)/s.bw, int(c.i)%s.bw
		s.aggregate(a, by, bx, pix[j*nb:(j+1)*nb], weight)
	}
}

// aggregate adds weight * window * blk to the numerator and weight * window to the
// denominator of a, block top-left at image (by, bx).
func (s *stage) aggregate(a *accum, by, bx int, blk []float32, weight float32) {
	n := s.n
	for r := 0; r < n; r++ {
		off := (by+r-a.y0)*s.w + bx
		num, den := a.num[off:off+n], a.den[off:off+n]
		win, b := s.win[r*n:r*n+n], blk[r*n:r*n+n]
		for c := range num {
			k := weight * win[c]
			num[c] += float64(k * b[c])
			den[c] += float64(k)
		}
	}
}
