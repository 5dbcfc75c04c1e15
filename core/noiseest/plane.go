package noiseest

import (
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Plane is one single-channel image, H rows of W values, row-major, in the data's units.
type Plane struct {
	H, W int
	Data []float32
}

// minSide is the smallest plane side the estimators accept, in pixels: the Daubechies-2
// analysis needs 4 pixels, and one coefficient block needs a few of them.
const minSide = 8

// Planes splits a [N, H, W, C] batch into its N*C planes, image by image and channel by
// channel within an image. The values are copied when C > 1 and shared when C = 1.
func Planes(b *batch.Batch) []Plane {
	out := make([]Plane, 0, b.N*b.C)
	for n := range b.N {
		img := b.Image(n)
		if b.C == 1 {
			out = append(out, Plane{H: b.H, W: b.W, Data: img.Data})
			continue
		}
		for c := range b.C {
			p := Plane{H: b.H, W: b.W, Data: make([]float32, b.H*b.W)}
			for i := range p.Data {
				p.Data[i] = img.Data[i*b.C+c]
			}
			out = append(out, p)
		}
	}
	return out
}

// at returns the value at row y, column x.
func (p Plane) at(y, x int) float64 { return float64(p.Data[y*p.W+x]) }

// checkPlanes returns an error unless there is at least one plane and every plane has a
// consistent shape, sides of at least minSide pixels and finite values.
func checkPlanes(planes []Plane) error {
	if len(planes) == 0 {
		return fmt.Errorf("no images to estimate the noise from")
	}
	for i, p := range planes {
		if p.H < minSide || p.W < minSide {
			return fmt.Errorf("image %d is %dx%d: each side must be at least %d pixels", i, p.W, p.H, minSide)
		}
		if len(p.Data) != p.H*p.W {
			return fmt.Errorf("image %d: %dx%d needs %d values, got %d", i, p.W, p.H, p.H*p.W, len(p.Data))
		}
		for j, v := range p.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("image %d: value %v at row %d, column %d is not finite", i, v, j/p.W, j%p.W)
			}
		}
	}
	return nil
}
