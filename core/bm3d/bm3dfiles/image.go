package bm3dfiles

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt/npy"
)

// planes is a file's content as a [N, H, W, C] batch of intensities, and how to write a batch
// of that shape back in the file's format and type.
type planes struct {
	b     *batch.Batch
	write func(path string, b *batch.Batch) error
}

// readFile reads a .png or .npy file (see the package doc for the layouts).
func readFile(path string) (*planes, error) {
	switch ext(path) {
	case ".png":
		return readPNG(path)
	case ".npy":
		return readNPY(path)
	}
	return nil, fmt.Errorf("%s: unsupported file type; use .png or .npy", path)
}

func readNPY(path string) (*planes, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := a.Shape
	var shape batch.Shape
	switch len(s) {
	case 2:
		shape = batch.Shape{N: 1, H: s[0], W: s[1], C: 1}
	case 3:
		shape = batch.Shape{N: 1, H: s[0], W: s[1], C: s[2]}
	case 4:
		shape = batch.Shape{N: s[0], H: s[1], W: s[2], C: s[3]}
	default:
		return nil, fmt.Errorf("%s: shape %v; want (H, W), (H, W, C) or (N, H, W, C)", path, s)
	}
	b, err := batch.FromData(shape, a.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &planes{b: b, write: func(out string, b *batch.Batch) error {
		return npy.WriteFile(out, s, b.Data)
	}}, nil
}

// pngKind is how a PNG's pixels map to channels and back.
type pngKind struct {
	channels int  // 1 gray, 3 colour
	deep     bool // 16 bits per sample
}

func readPNG(path string) (*planes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	var kind pngKind
	switch img.(type) {
	case *image.Gray:
		kind = pngKind{1, false}
	case *image.Gray16:
		kind = pngKind{1, true}
	case *image.RGBA64, *image.NRGBA64:
		kind = pngKind{3, true}
	default: // 8-bit colour, with or without alpha; palettes and gray+alpha come as 8-bit colour
		kind = pngKind{3, false}
	}
	b := batch.New(1, h, w, kind.channels)
	alpha := make([]uint16, h*w) // straight (not premultiplied) alpha, 16-bit scale
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// The NRGBA models return the decoder's own colours unchanged (exact samples);
			// other colours (palette entries, opaque RGB) convert exactly as they are opaque
			// or already straight.
			var rgb [3]float32
			i := y*w + x
			if c := img.At(r.Min.X+x, r.Min.Y+y); kind.deep {
				n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
				rgb = [3]float32{float32(n.R) / 65535, float32(n.G) / 65535, float32(n.B) / 65535}
				alpha[i] = n.A
			} else {
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				rgb = [3]float32{float32(n.R) / 255, float32(n.G) / 255, float32(n.B) / 255}
				alpha[i] = uint16(n.A) * 257
			}
			copy(b.Data[i*kind.channels:(i+1)*kind.channels], rgb[:kind.channels])
		}
	}
	return &planes{b: b, write: func(out string, b *batch.Batch) error {
		return atomicfile.Write(out, 0o644, func(wr io.Writer) error {
			return png.Encode(wr, toImage(b, kind, alpha))
		})
	}}, nil
}

// quantize maps an intensity back to an 8- or 16-bit sample, clipping to [0, 1] and rounding.
func quantize(v float32, max float64) float64 {
	return math.Round(math.Min(math.Max(float64(v), 0), 1) * max)
}

// toImage builds the image to write: the same bit depth as the input, alpha copied.
func toImage(b *batch.Batch, kind pngKind, alpha []uint16) image.Image {
	h, w := b.H, b.W
	opaque := true
	for _, a := range alpha {
		opaque = opaque && a == 0xffff
	}
	r := image.Rect(0, 0, w, h)
	switch {
	case kind.channels == 1 && !kind.deep && opaque:
		g := image.NewGray(r)
		for i, v := range b.Data {
			g.Pix[i] = uint8(quantize(v, 255))
		}
		return g
	case kind.channels == 1 && kind.deep && opaque:
		g := image.NewGray16(r)
		for i, v := range b.Data {
			q := uint16(quantize(v, 65535))
			g.Pix[2*i], g.Pix[2*i+1] = uint8(q>>8), uint8(q)
		}
		return g
	case kind.deep:
		m := image.NewNRGBA64(r)
		for i := 0; i < h*w; i++ {
			for c := 0; c < 3; c++ {
				q := uint16(quantize(b.Data[i*b.C+min(c, b.C-1)], 65535))
				m.Pix[8*i+2*c], m.Pix[8*i+2*c+1] = uint8(q>>8), uint8(q)
			}
			m.Pix[8*i+6], m.Pix[8*i+7] = uint8(alpha[i]>>8), uint8(alpha[i])
		}
		return m
	}
	m := image.NewNRGBA(r)
	for i := 0; i < h*w; i++ {
		for c := 0; c < 3; c++ {
			m.Pix[4*i+c] = uint8(quantize(b.Data[i*b.C+min(c, b.C-1)], 255))
		}
		m.Pix[4*i+3] = uint8(alpha[i] >> 8)
	}
	return m
}
