package operators

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// TestMasks checks the drawn masks (count and shape of the dropped set, equal channels) and
// Apply/VJP against explicit indexing: y[n,i,j,c] = x[n,i,j,c] where the pixel is kept, 0
// where it is dropped. Exact (products by 0 and 1).
func TestMasks(t *testing.T) {
	rm, _ := NewRandomMask(RandomMaskConfig{Fraction: 0.3})
	bm, _ := NewBoxMask(BoxMaskConfig{Size: 5})
	s := batch.Shape{N: 6, H: 12, W: 9, C: 3}
	cases := []struct {
		name string
		op   part.Operator
		// dropped checks one image's set of dropped pixels (flat y*W+x, sorted by the loop).
		dropped func(t *testing.T, px []int)
	}{
		{"random 0.3", rm, func(t *testing.T, px []int) {
			if want := int(math.Round(0.3 * 12 * 9)); len(px) != want {
				t.Errorf("dropped %d pixels, want %d", len(px), want)
			}
		}},
		{"box 5", bm, func(t *testing.T, px []int) {
			if len(px) != 25 {
				t.Fatalf("dropped %d pixels, want 25", len(px))
			}
			y0, x0 := px[0]/9, px[0]%9
			for k, p := range px {
				if p/9 != y0+k/5 || p%9 != x0+k%5 {
					t.Fatalf("dropped set is not a 5x5 box at (%d,%d): %v", y0, x0, px)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.op.SampleParams(ctx, rand.New(rand.NewPCG(3, 4)), s)
			if err != nil {
				t.Fatal(err)
			}
			m := p[MaskKey]
			if m == nil || m.Shape != s {
				t.Fatalf("mask param %v, want shape %s", m, s)
			}
			distinct := map[string]bool{}
			for n := range s.N {
				var px []int
				key := ""
				for i := range s.H {
					for j := range s.W {
						v := m.At(n, i, j, 0)
						for ch := 1; ch < s.C; ch++ {
							if m.At(n, i, j, ch) != v {
								t.Fatalf("image %d pixel (%d,%d): channels differ", n, i, j)
							}
						}
						if v != 0 && v != 1 {
							t.Fatalf("mask value %v", v)
						}
						if v == 0 {
							px = append(px, i*s.W+j)
							key += string(rune(i*s.W + j))
						}
					}
				}
				c.dropped(t, px)
				distinct[key] = true
			}
			if len(distinct) < 3 {
				t.Errorf("only %d distinct masks over %d images: not drawn per sample", len(distinct), s.N)
			}
			x, v := randBatch(1, s), randBatch(2, s)
			y, _ := c.op.Apply(ctx, x, p)
			g, _ := c.op.VJP(ctx, x, v, p)
			for n := range s.N {
				for i := range s.H {
					for j := range s.W {
						for ch := range s.C {
							wantY, wantG := x.At(n, i, j, ch), v.At(n, i, j, ch)
							if m.At(n, i, j, ch) == 0 {
								wantY, wantG = 0, 0
							}
							if y.At(n, i, j, ch) != wantY || g.At(n, i, j, ch) != wantG {
								t.Fatalf("(%d,%d,%d,%d): Apply %v VJP %v, want %v %v", n, i, j, ch,
									y.At(n, i, j, ch), g.At(n, i, j, ch), wantY, wantG)
							}
						}
					}
				}
			}
		})
	}
}

func TestMaskErrors(t *testing.T) {
	bm, _ := NewBoxMask(BoxMaskConfig{Size: 10})
	if _, err := bm.OutShape(ctx, batchShape(1, 8, 12, 1)); err == nil || !strings.Contains(err.Error(), "a 10x10 box does not fit a 8x12 image") {
		t.Errorf("box too large: err = %v", err)
	}
	rm, _ := NewRandomMask(RandomMaskConfig{Fraction: 0.5})
	x := randBatch(1, batchShape(2, 4, 4, 1))
	if _, err := rm.Apply(ctx, x, nil); err == nil || !strings.Contains(err.Error(), `missing per-sample parameter "mask"`) {
		t.Errorf("no params: err = %v", err)
	}
	p, _ := rm.SampleParams(ctx, rand.New(rand.NewPCG(1, 1)), batchShape(3, 4, 4, 1))
	if _, err := rm.Apply(ctx, x, p); err == nil || !strings.Contains(err.Error(), "has shape [3,4,4,1], want [2,4,4,1]") {
		t.Errorf("wrong params: err = %v", err)
	}
	if _, err := NewRandomMask(RandomMaskConfig{Fraction: -0.1}); err == nil {
		t.Error("fraction -0.1 accepted")
	}
}

// TestDownsample checks Apply against explicit block means and VJP against the explicit
// spread v/f² (tolerance 1e-6 relative: float64 sums, float32 storage).
func TestDownsample(t *testing.T) {
	for _, f := range []int{2, 3} {
		op, _ := NewDownsample(DownsampleConfig{Factor: f})
		s := batch.Shape{N: 2, H: 4 * f, W: 3 * f, C: 2}
		x := randBatch(uint64(f), s)
		y, err := op.Apply(ctx, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := batch.New(2, 4, 3, 2)
		for n := range 2 {
			for i := range 4 {
				for j := range 3 {
					for c := range 2 {
						sum := 0.0
						for a := range f {
							for b := range f {
								sum += float64(x.At(n, f*i+a, f*j+b, c))
							}
						}
						want.Set(n, i, j, c, float32(sum/float64(f*f)))
					}
				}
			}
		}
		if d := maxRelDiff(t, y, want); d > 1e-6 {
			t.Errorf("factor %d: Apply differs from block means by %.3g", f, d)
		}
		v := randBatch(9, want.Shape)
		g, _ := op.VJP(ctx, x, v, nil)
		wantG := batch.New(s.N, s.H, s.W, s.C)
		for n := range s.N {
			for p := range s.H {
				for q := range s.W {
					for c := range s.C {
						wantG.Set(n, p, q, c, v.At(n, p/f, q/f, c)/float32(f*f))
					}
				}
			}
		}
		if d := maxRelDiff(t, g, wantG); d > 1e-6 {
			t.Errorf("factor %d: VJP differs from the spread by %.3g", f, d)
		}
	}
	op, _ := NewDownsample(DownsampleConfig{Factor: 3})
	if _, err := op.OutShape(ctx, batchShape(1, 28, 27, 1)); err == nil || !strings.Contains(err.Error(), "a 28x27 image is not a whole number of 3x3 blocks") {
		t.Errorf("err = %v", err)
	}
}
