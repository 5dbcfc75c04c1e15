package metrics

import (
	"fmt"
)

// This file is the forward pass of the SqueezeNet 1.1 feature extractor as torchvision's
// squeezenet1_1().features defines it (Iandola et al., "SqueezeNet: AlexNet-level accuracy
// with 50x fewer parameters and <0.5MB model size", arXiv:1602.07360; version 1.1 from the
// authors' repository), in float32, for one image at a time:
//
//	0  conv 3->64, 3x3, stride 2, no padding     1  ReLU
//	2  max pool 3x3, stride 2, ceil mode          3  fire(64 -> 16 -> 64+64)
//	4  fire(128 -> 16 -> 64+64)                   5  max pool 3x3/2 ceil
//	6  fire(128 -> 32 -> 128+128)                 7  fire(256 -> 32 -> 128+128)
//	8  max pool 3x3/2 ceil                        9  fire(256 -> 48 -> 192+192)
//	10 fire(384 -> 48 -> 192+192)                 11 fire(384 -> 64 -> 256+256)
//	12 fire(512 -> 64 -> 256+256)
//
// A fire module is s = ReLU(conv1x1(x)), out = concat(ReLU(conv1x1(s)), ReLU(conv3x3 pad 1(s)))
// along channels, expand1x1 first. LPIPS taps the outputs of features[0:2], [2:5], [5:8],
// [8:10], [10:11], [11:12] and [12:13]: 64, 128, 256, 384, 384, 512 and 512 channels.
//
// Feature maps are [height, width, channels] row-major (channels last), so a 1x1 convolution
// is one matrix product and a kxk convolution is an im2col gather followed by one.

// fmap is a [H, W, C] feature map.
type fmap struct {
	h, w, c int
	d       []float32
}

// conv2d is a convolution with square kernel k, stride, zero padding pad and bias, followed
// by ReLU (every convolution of SqueezeNet's features is).
type conv2d struct {
	cin, cout, k, stride, pad int
	// w is the kernel as a [k*k*cin, cout] matrix, row (ky*k+kx)*cin+ci, from PyTorch's
	// [cout, cin, k, k] layout.
	w []float32
	b []float32
}

// newConv2d takes PyTorch's [cout, cin, k, k] weight and [cout] bias.
func newConv2d(w, b []float32, cin, cout, k, stride, pad int) conv2d {
	c := conv2d{cin: cin, cout: cout, k: k, stride: stride, pad: pad, w: make([]float32, len(w)), b: b}
	for o := range cout {
		for ci := range cin {
			for ky := range k {
				for kx := range k {
					c.w[((ky*k+kx)*cin+ci)*cout+o] = w[((o*cin+ci)*k+ky)*k+kx]
				}
			}
		}
	}
	return c
}

func (c *conv2d) outSize(h, w int) (int, int) {
	return (h+2*c.pad-c.k)/c.stride + 1, (w+2*c.pad-c.k)/c.stride + 1
}

// apply writes ReLU(conv(x)) into out (rows of stride ldo, starting at column off), which
// must hold oh*ow rows. a is scratch.
func (c *conv2d) apply(x fmap, out []float32, ldo, off int, a *arena) {
	oh, ow := c.outSize(x.h, x.w)
	m := oh * ow
	for i := range m {
		copy(out[i*ldo+off:i*ldo+off+c.cout], c.b)
	}
	kk := c.k * c.k * c.cin
	cols := x.d
	if c.k != 1 || c.stride != 1 || c.pad != 0 {
		cols = a.get(m * kk)
		im2col(x, c.k, c.stride, c.pad, oh, ow, cols)
	}
	gemm(m, c.cout, kk, cols, kk, c.w, out[off:], ldo)
	for i := range m {
		row := out[i*ldo+off : i*ldo+off+c.cout]
		for j, v := range row {
			if v < 0 {
				row[j] = 0
			}
		}
	}
}

// im2col gathers the k x k patches of x into cols, one row of k*k*C values per output pixel
// (ky, kx, c order), zeros where the patch leaves the image.
func im2col(x fmap, k, stride, pad, oh, ow int, cols []float32) {
	kk := k * k * x.c
	for oy := range oh {
		for ox := range ow {
			row := cols[(oy*ow+ox)*kk : (oy*ow+ox+1)*kk]
			for ky := range k {
				iy := oy*stride + ky - pad
				for kx := range k {
					ix := ox*stride + kx - pad
					dst := row[(ky*k+kx)*x.c : (ky*k+kx+1)*x.c]
					if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
						clear(dst)
						continue
					}
					copy(dst, x.d[(iy*x.w+ix)*x.c:])
				}
			}
		}
	}
}

// gemm adds A B to C: C[i, j] += sum_p A[i, p] B[p, j] for i < m, j < n, p < k, with A of
// row stride lda, B dense [k, n] and C of row stride ldc. Four rows of A share each pass
// over a row of B; a step whose four A values are all zero (ReLU output, im2col padding) is
// skipped.
func gemm(m, n, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		c0 := c[i*ldc : i*ldc+n]
		c1 := c[(i+1)*ldc : (i+1)*ldc+n]
		c2 := c[(i+2)*ldc : (i+2)*ldc+n]
		c3 := c[(i+3)*ldc : (i+3)*ldc+n]
		a0 := a[i*lda : i*lda+k]
		a1 := a[(i+1)*lda : (i+1)*lda+k]
		a2 := a[(i+2)*lda : (i+2)*lda+k]
		a3 := a[(i+3)*lda : (i+3)*lda+k]
		for p := range k {
			v0, v1, v2, v3 := a0[p], a1[p], a2[p], a3[p]
			if v0 == 0 && v1 == 0 && v2 == 0 && v3 == 0 {
				continue
			}
			br := b[p*n : p*n+n]
			c0, c1, c2, c3 := c0[:len(br)], c1[:len(br)], c2[:len(br)], c3[:len(br)]
			for j, bv := range br {
				c0[j] += v0 * bv
				c1[j] += v1 * bv
				c2[j] += v2 * bv
				c3[j] += v3 * bv
			}
		}
	}
	for ; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		ai := a[i*lda : i*lda+k]
		for p, v := range ai {
			if v == 0 {
				continue
			}
			br := b[p*n : p*n+n]
			ci := ci[:len(br)]
			for j, bv := range br {
				ci[j] += v * bv
			}
		}
	}
}

// maxPoolCeil is PyTorch's MaxPool2d(kernel_size=3, stride=2, ceil_mode=True) without
// padding: windows that run past the bottom or right edge are cut at the edge.
func maxPoolCeil(x fmap, a *arena) fmap {
	oh, ow := poolSize(x.h), poolSize(x.w)
	out := fmap{h: oh, w: ow, c: x.c, d: a.get(oh * ow * x.c)}
	for oy := range oh {
		for ox := range ow {
			dst := out.d[(oy*ow+ox)*x.c : (oy*ow+ox+1)*x.c]
			first := true
			for iy := 2 * oy; iy < min(2*oy+3, x.h); iy++ {
				for ix := 2 * ox; ix < min(2*ox+3, x.w); ix++ {
					src := x.d[(iy*x.w+ix)*x.c : (iy*x.w+ix+1)*x.c]
					if first {
						copy(dst, src)
						first = false
						continue
					}
					for j, v := range src {
						if v > dst[j] {
							dst[j] = v
						}
					}
				}
			}
		}
	}
	return out
}

// poolSize is the ceil-mode output length of a 3-wide, stride-2 pool over n values:
// ceil((n-3)/2) + 1, less one if the last window would start past the input (PyTorch's
// pooling_output_shape). It is < 1 when n < 2.
func poolSize(n int) int {
	if n < 2 {
		return 0
	}
	o := (n-3+1)/2 + 1
	if (o-1)*2 >= n {
		o--
	}
	return o
}

// fire is SqueezeNet's fire module.
type fire struct{ squeeze, expand1, expand3 conv2d }

func (f *fire) cout() int { return f.expand1.cout + f.expand3.cout }

func (f *fire) apply(x fmap, a *arena) fmap {
	s := fmap{h: x.h, w: x.w, c: f.squeeze.cout, d: a.get(x.h * x.w * f.squeeze.cout)}
	f.squeeze.apply(x, s.d, s.c, 0, a)
	out := fmap{h: x.h, w: x.w, c: f.cout(), d: a.get(x.h * x.w * f.cout())}
	f.expand1.apply(s, out.d, out.c, 0, a)
	f.expand3.apply(s, out.d, out.c, f.expand1.cout, a)
	return out
}

// squeezeNet holds the weights of squeezenet1_1().features.
type squeezeNet struct {
	conv1 conv2d
	fires [8]fire // features 3, 4, 6, 7, 9, 10, 11, 12
}

// lpipsTaps is the number of feature maps LPIPS compares.
const lpipsTaps = 7

// lpipsChannels are the channel counts of the seven taps.
var lpipsChannels = [lpipsTaps]int{64, 128, 256, 384, 384, 512, 512}

// features returns the seven LPIPS taps of x, a [H, W, 3] map already scaled. Buffers come
// from a and stay valid until a is reset.
func (n *squeezeNet) features(x fmap, a *arena) [lpipsTaps]fmap {
	var taps [lpipsTaps]fmap
	oh, ow := n.conv1.outSize(x.h, x.w)
	h := fmap{h: oh, w: ow, c: n.conv1.cout, d: a.get(oh * ow * n.conv1.cout)}
	n.conv1.apply(x, h.d, h.c, 0, a)
	taps[0] = h
	h = maxPoolCeil(h, a)
	h = n.fires[1].apply(n.fires[0].apply(h, a), a)
	taps[1] = h
	h = maxPoolCeil(h, a)
	h = n.fires[3].apply(n.fires[2].apply(h, a), a)
	taps[2] = h
	h = maxPoolCeil(h, a)
	h = n.fires[4].apply(h, a)
	taps[3] = h
	for i := 5; i < 8; i++ {
		h = n.fires[i].apply(h, a)
		taps[i-1] = h
	}
	return taps
}

// checkInputSize returns an error when an h x w image is too small for the first convolution
// and the three pools: each side must be at least 17 pixels.
func (n *squeezeNet) checkInputSize(h, w int) error {
	ok := h >= n.conv1.k && w >= n.conv1.k
	if ok {
		oh, ow := n.conv1.outSize(h, w)
		for range 3 {
			oh, ow = poolSize(oh), poolSize(ow)
		}
		ok = oh >= 1 && ow >= 1
	}
	if !ok {
		return fmt.Errorf("lpips (squeezenet) needs images of at least 17x17 pixels, got %dx%d", h, w)
	}
	return nil
}

// arena hands out float32 buffers for one forward pass and takes them all back on reset;
// after the first pass of a given size it no longer allocates.
type arena struct {
	chunks [][]float32
	off    int // used length of the last chunk
	total  int // sum of the sizes handed out since the last reset
}

func (a *arena) get(n int) []float32 {
	a.total += n
	if len(a.chunks) > 0 {
		last := a.chunks[len(a.chunks)-1]
		if a.off+n <= len(last) {
			s := last[a.off : a.off+n : a.off+n]
			a.off += n
			return s
		}
	}
	c := make([]float32, max(n, 1<<16))
	a.chunks = append(a.chunks, c)
	a.off = n
	return c[:n:n]
}

// reset makes every buffer handed out reusable, merging the chunks into one that holds what
// the last pass needed.
func (a *arena) reset() {
	if len(a.chunks) > 1 {
		a.chunks = [][]float32{make([]float32, a.total)}
	}
	a.off, a.total = 0, 0
}
