package bm3d

// forwardRow writes the 2D transforms of the blocks whose top-left corners are (y, 0..w-n) of
// the image img (row stride w), in frequency order, into out (w-n+1 blocks of n*n values).
// It applies F along columns once for the whole strip of n rows (v = F strip, n x w), then
// each block's columns of v times F^T. v holds n*w values, tmp 2*n*n.
func (t *transform2D) forwardRow(img []float32, w, y int, out, v, tmp []float32) {
	n, nb := t.n, t.n*t.n
	strip := img[y*w : (y+n)*w]
	for k := 0; k < n; k++ {
		vk := v[k*w : k*w+w]
		clear(vk)
		for i := 0; i < n; i++ {
			f := t.fwd[k*n+i]
			src := strip[i*w : i*w+w]
			src = src[:len(vk)]
			for x := range vk {
				vk[x] += f * src[x]
			}
		}
	}
	for bx := 0; bx+n <= w; bx++ {
		dst := out[bx*nb : bx*nb+nb]
		if n == 8 {
			var a, c mat8
			for k := range 8 {
				a[k] = [8]float32(v[k*w+bx : k*w+bx+8])
			}
			mulABt8(&a, &t.f8, &c)
			for p, k := range t.order {
				dst[p] = c[k>>3][k&7]
			}
			continue
		}
		c := tmp[:nb]
		for k := 0; k < n; k++ {
			mulRowT(v[k*w+bx:k*w+bx+n], t.fwd, c[k*n:k*n+n])
		}
		for p, k := range t.order {
			dst[p] = c[k]
		}
	}
}

// inverse writes G C G^T into out (row-major pixels), C being in frequency order; tmp holds
// 2*n*n values.
func (t *transform2D) inverse(coef, out, tmp []float32) {
	n := t.n
	if n == 8 {
		var c, a, o mat8
		for p, k := range t.order {
			c[k>>3][k&7] = coef[p]
		}
		mulABt8(&c, &t.g8, &a)
		mulAB8(&t.g8, &a, &o)
		for i := range 8 {
			*(*[8]float32)(out[i*8 : i*8+8]) = o[i]
		}
		return
	}
	c, a := tmp[:n*n], tmp[n*n:2*n*n]
	for p, k := range t.order {
		c[k] = coef[p]
	}
	for i := 0; i < n; i++ { // a = C G^T
		mulRowT(c[i*n:i*n+n], t.inv, a[i*n:i*n+n])
	}
	mulLeft(t.inv, a, out, n)
}

// mulRowT writes out[l] = sum_j row[j] m[l][j] for an n x n row-major m, n = len(row).
func mulRowT(row, m, out []float32) {
	n := len(row)
	for l := range out {
		mr := m[l*n : l*n+n]
		mr = mr[:len(row)]
		var s float32
		for j, r := range row {
			s += r * mr[j]
		}
		out[l] = s
	}
}

// mulLeft writes m x into out for n x n row-major matrices.
func mulLeft(m, x, out []float32, n int) {
	for k := 0; k < n; k++ {
		o := out[k*n : k*n+n]
		clear(o)
		for i := 0; i < n; i++ {
			f := m[k*n+i]
			xr := x[i*n : i*n+n]
			xr = xr[:len(o)]
			for l := range o {
				o[l] += f * xr[l]
			}
		}
	}
}

// mat8 is an 8 x 8 matrix, the block size of the normal profile, for which the kernels below
// are unrolled.
type mat8 [8][8]float32

// mulABt8 writes a b^T into out.
func mulABt8(a, b, out *mat8) {
	for i := range 8 {
		ai := &a[i]
		for l := range 8 {
			bl := &b[l]
			out[i][l] = (ai[0]*bl[0] + ai[1]*bl[1]) + (ai[2]*bl[2] + ai[3]*bl[3]) +
				((ai[4]*bl[4] + ai[5]*bl[5]) + (ai[6]*bl[6] + ai[7]*bl[7]))
		}
	}
}

// mulAB8 writes a b into out.
func mulAB8(a, b, out *mat8) {
	for k := range 8 {
		var o [8]float32
		for i := range 8 {
			f, bi := a[k][i], &b[i]
			o[0] += f * bi[0]
			o[1] += f * bi[1]
			o[2] += f * bi[2]
			o[3] += f * bi[3]
			o[4] += f * bi[4]
			o[5] += f * bi[5]
			o[6] += f * bi[6]
			o[7] += f * bi[7]
		}
		out[k] = o
	}
}
