package bm3d

// cand is a matched block: its distance (sum of squared coefficient differences, not yet
// divided by N1^2) and its index in the band's block arrays.
type cand struct {
	d float32
	i int32
}

// match fills best with the blocks of the search window around reference position (ry, rx)
// whose distance to it is below the stage's threshold, closest first (the reference itself
// first, ties in scan order), at most MaxGroup of them, and returns the group size: the
// largest power of 2 not above the number found.
func (s *stage) match(ry, rx int, best []cand) ([]cand, int) {
	nb, bw := s.nb, s.bw
	maxN := s.p.MaxGroup
	refI := s.blockIndex(ry, rx)
	ref := s.mT[refI*nb : refI*nb+nb]
	best = append(best[:0], cand{0, int32(refI)})
	y0, y1 := max(0, ry-s.hs), min(s.bh-1, ry+s.hs)
	x0, x1 := max(0, rx-s.hs), min(bw-1, rx+s.hs)
	for y := y0; y <= y1; y++ {
		rowI := s.blockIndex(y, 0)
		for x := x0; x <= x1; x++ {
			if y == ry && x == rx {
				continue
			}
			lim := s.tau
			if len(best) == maxN {
				lim = best[maxN-1].d
			}
			i := rowI + x
			d := distance(ref, s.mT[i*nb:i*nb+nb], lim)
			if d >= lim {
				continue
			}
			best = insert(best, cand{d, int32(i)}, maxN)
		}
	}
	m := 1
	for m*2 <= len(best) {
		m *= 2
	}
	return best, m
}

// insert puts c into the sorted list best (after entries at the same distance), keeping at
// most maxN entries.
func insert(best []cand, c cand, maxN int) []cand {
	if len(best) < maxN {
		best = append(best, c)
	}
	p := len(best) - 1
	for p > 0 && best[p-1].d > c.d {
		best[p] = best[p-1]
		p--
	}
	best[p] = c
	return best
}

// distance is the squared l2 distance of a and b, summed 8 coefficients at a time (stored in
// frequency order, so the large differences come first); it returns as soon as the sum
// reaches lim (the value is then only known to be >= lim).
func distance(a, b []float32, lim float32) float32 {
	var s float32
	b = b[:len(a)]
	k := 0
	for ; k+8 <= len(a); k += 8 {
		ak, bk := (*[8]float32)(a[k:k+8]), (*[8]float32)(b[k:k+8])
		e0, e1, e2, e3 := ak[0]-bk[0], ak[1]-bk[1], ak[2]-bk[2], ak[3]-bk[3]
		e4, e5, e6, e7 := ak[4]-bk[4], ak[5]-bk[5], ak[6]-bk[6], ak[7]-bk[7]
		s += (e0*e0 + e1*e1) + (e2*e2 + e3*e3) + ((e4*e4 + e5*e5) + (e6*e6 + e7*e7))
		if s >= lim {
			return s
		}
	}
	for ; k < len(a); k++ {
		e := a[k] - b[k]
		s += e * e
	}
	return s
}
