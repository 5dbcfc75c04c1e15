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
	lim := s.tau // the distance to beat: tau, or the worst kept once the group is full
	for y := y0; y <= y1; y++ {
		row := s.mT[s.blockIndex(y, 0)*nb : s.blockIndex(y, x1+1)*nb]
	candidates:
		for x := x0; x <= x1; x++ {
			// The squared distance, 8 coefficients at a time (stored in frequency order, so
			// the large differences come first), abandoned once it reaches lim.
			b := row[x*nb : x*nb+nb]
			b = b[:len(ref)]
			var d float32
			for k := 0; k+8 <= len(ref); k += 8 {
				ak, bk := (*[8]float32)(ref[k:k+8]), (*[8]float32)(b[k:k+8])
				e0, e1, e2, e3 := ak[0]-bk[0], ak[1]-bk[1], ak[2]-bk[2], ak[3]-bk[3]
				e4, e5, e6, e7 := ak[4]-bk[4], ak[5]-bk[5], ak[6]-bk[6], ak[7]-bk[7]
				d += (e0*e0 + e1*e1) + (e2*e2 + e3*e3) + ((e4*e4 + e5*e5) + (e6*e6 + e7*e7))
				if d >= lim {
					continue candidates
				}
			}
			for k := len(ref) &^ 7; k < len(ref); k++ {
				e := ref[k] - b[k]
				d += e * e
			}
			if d >= lim || (y == ry && x == rx) {
				continue
			}
			best = insert(best, cand{d, int32(s.blockIndex(y, x))}, maxN)
			if len(best) == maxN {
				lim = best[maxN-1].d
			}
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
