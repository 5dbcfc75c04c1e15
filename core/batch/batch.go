// Package batch holds images outside the compute graph: a dense float32 tensor in
// [batch, height, width, channels] (NHWC) layout, row-major, the layout used everywhere in
// FlowDiff-Go (datasets, operators, plugins over the wire, metrics, reports).
//
// Intensities are linear and normalized to [0, 1] for clean data (see core/data for the
// normalization rules); corrupted observations may leave that range (noise is not clipped).
package batch

import (
	"fmt"
	"math"
)

// Shape is the [N, H, W, C] shape of a batch.
type Shape struct {
	N, H, W, C int
}

// Size is the number of elements N*H*W*C.
func (s Shape) Size() int { return s.N * s.H * s.W * s.C }

// ImageSize is the number of elements of one image, H*W*C.
func (s Shape) ImageSize() int { return s.H * s.W * s.C }

// Dims returns the shape as a slice, convenient for GoMLX tensors.
func (s Shape) Dims() []int { return []int{s.N, s.H, s.W, s.C} }

// String formats as [N,H,W,C].
func (s Shape) String() string { return fmt.Sprintf("[%d,%d,%d,%d]", s.N, s.H, s.W, s.C) }

// Valid reports whether every dimension is positive.
func (s Shape) Valid() bool { return s.N > 0 && s.H > 0 && s.W > 0 && s.C > 0 }

// Batch is a dense NHWC float32 tensor.
type Batch struct {
	Shape
	// Data holds N*H*W*C values; element (n,y,x,c) is at ((n*H+y)*W+x)*C+c.
	Data []float32
}

// New returns a zero-filled batch. It panics on a non-positive dimension (a programmer error).
func New(n, h, w, c int) *Batch {
	s := Shape{n, h, w, c}
	if !s.Valid() {
		panic(fmt.Sprintf("batch.New: invalid shape %s", s))
	}
	return &Batch{Shape: s, Data: make([]float32, s.Size())}
}

// FromData wraps data (not copied) as a batch of the given shape.
func FromData(s Shape, data []float32) (*Batch, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid batch shape %s", s)
	}
	if len(data) != s.Size() {
		return nil, fmt.Errorf("batch shape %s needs %d values, got %d", s, s.Size(), len(data))
	}
	return &Batch{Shape: s, Data: data}, nil
}

// Index returns the flat index of element (n, y, x, c).
func (b *Batch) Index(n, y, x, c int) int { return ((n*b.H+y)*b.W+x)*b.C + c }

// At returns element (n, y, x, c).
func (b *Batch) At(n, y, x, c int) float32 { return b.Data[b.Index(n, y, x, c)] }

// Set stores v at element (n, y, x, c).
func (b *Batch) Set(n, y, x, c int, v float32) { b.Data[b.Index(n, y, x, c)] = v }

// Image returns image i as a batch of one that shares memory with b.
func (b *Batch) Image(i int) *Batch {
	sz := b.ImageSize()
	return &Batch{Shape: Shape{1, b.H, b.W, b.C}, Data: b.Data[i*sz : (i+1)*sz]}
}

// Slice returns images [from, to) as a batch sharing memory with b.
func (b *Batch) Slice(from, to int) *Batch {
	sz := b.ImageSize()
	return &Batch{Shape: Shape{to - from, b.H, b.W, b.C}, Data: b.Data[from*sz : to*sz]}
}

// Clone returns a deep copy.
func (b *Batch) Clone() *Batch {
	return &Batch{Shape: b.Shape, Data: append([]float32(nil), b.Data...)}
}

// Gather returns a new batch with the images at the given indices, in that order.
func (b *Batch) Gather(idx []int) *Batch {
	out := New(len(idx), b.H, b.W, b.C)
	sz := b.ImageSize()
	for j, i := range idx {
		copy(out.Data[j*sz:(j+1)*sz], b.Data[i*sz:(i+1)*sz])
	}
	return out
}

// Concat stacks batches of equal image shape along N.
func Concat(bs ...*Batch) (*Batch, error) {
	if len(bs) == 0 {
		return nil, fmt.Errorf("concat of no batches")
	}
	s := bs[0].Shape
	n := 0
	for _, b := range bs {
		if b.H != s.H || b.W != s.W || b.C != s.C {
			return nil, fmt.Errorf("concat: image shape %s differs from %s", b.Shape, s)
		}
		n += b.N
	}
	out := New(n, s.H, s.W, s.C)
	off := 0
	for _, b := range bs {
		off += copy(out.Data[off:], b.Data)
	}
	return out, nil
}

// CheckFinite returns an error naming the first NaN or Inf element, or nil.
func (b *Batch) CheckFinite() error {
	for i, v := range b.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			sz := b.ImageSize()
			return fmt.Errorf("non-finite value %v in image %d at flat offset %d", v, i/sz, i%sz)
		}
	}
	return nil
}

// SameShape returns an error if a and b differ in shape.
func SameShape(a, b *Batch) error {
	if a.Shape != b.Shape {
		return fmt.Errorf("shape mismatch: %s vs %s", a.Shape, b.Shape)
	}
	return nil
}
