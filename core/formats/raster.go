package formats

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// maxRasterPixels bounds a PNG or JPEG image (16384 x 16384), checked on its header.
const maxRasterPixels = 1 << 28

// readRaster decodes a PNG (8- or 16-bit gray or color, palette expanded to RGB, alpha
// dropped) or a JPEG (8-bit gray or YCbCr converted to RGB) after checking its header.
func readRaster(r io.ReadSeeker, format string) (*Image, error) {
	decodeConfig, decode := png.DecodeConfig, png.Decode
	if format == "jpeg" {
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	}
	cfg, err := decodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%s header: %w", format, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > maxRasterPixels {
		return nil, fmt.Errorf("%s image of %dx%d pixels: want 1 to %d pixels", format, cfg.Width, cfg.Height, maxRasterPixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	src, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	m := &Image{W: w, H: h, C: 3, N: 1, SourceType: dtype.Uint8}
	switch s := src.(type) {
	case *image.Gray:
		m.C, m.Data = 1, make([]float32, w*h)
		for y := range h {
			for x, v := range s.Pix[y*s.Stride : y*s.Stride+w] {
				m.Data[y*w+x] = float32(v)
			}
		}
	case *image.Gray16:
		m.C, m.SourceType, m.Data = 1, dtype.Uint16, make([]float32, w*h)
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				m.Data[y*w+x] = float32(uint16(row[2*x])<<8 | uint16(row[2*x+1]))
			}
		}
	case *image.NRGBA64, *image.RGBA64:
		m.SourceType, m.Data = dtype.Uint16, make([]float32, 3*w*h)
		for y := range h {
			for x := range w {
				c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				i := 3 * (y*w + x)
				m.Data[i], m.Data[i+1], m.Data[i+2] = float32(c.R), float32(c.G), float32(c.B)
			}
		}
	case *image.CMYK:
		return nil, errors.New("CMYK JPEG not supported: convert it to RGB or gray")
	default: // NRGBA, RGBA, Paletted, YCbCr: 8-bit color
		m.Data = make([]float32, 3*w*h)
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				i := 3 * (y*w + x)
				m.Data[i], m.Data[i+1], m.Data[i+2] = float32(c.R), float32(c.G), float32(c.B)
			}
		}
	}
	return m, nil
}

// pngEncoder writes one image as 8- or 16-bit gray or RGB PNG, quantized by dtype's rule.
func pngEncoder(img *Image, t dtype.Type) (func(io.Writer) (int, error), error) {
	if img.N != 1 {
		return nil, fmt.Errorf("PNG holds one image, not %d: write .tif, .mrcs or .npy for a stack", img.N)
	}
	if t != dtype.Uint8 && t != dtype.Uint16 {
		return nil, fmt.Errorf("PNG stores uint8 or uint16 samples, not %v: set SourceType, or write .tif", t)
	}
	return func(w io.Writer) (int, error) {
		r := image.Rect(0, 0, img.W, img.H)
		clipped := 0
		q := func(v float32) uint16 {
			f, c := t.Quantize(v)
			if c {
				clipped++
			}
			return uint16(f)
		}
		var out image.Image
		switch {
		case t == dtype.Uint8 && img.C == 1:
			m := image.NewGray(r)
			for i, v := range img.Data {
				m.Pix[i] = uint8(q(v))
			}
			out = m
		case t == dtype.Uint16 && img.C == 1:
			m := image.NewGray16(r)
			for i, v := range img.Data {
				x := q(v)
				m.Pix[2*i], m.Pix[2*i+1] = uint8(x>>8), uint8(x)
			}
			out = m
		case t == dtype.Uint8:
			m := image.NewNRGBA(r)
			for i := range img.W * img.H {
				for c := range 3 {
					m.Pix[4*i+c] = uint8(q(img.Data[3*i+c]))
				}
				m.Pix[4*i+3] = 0xff
			}
			out = m
		default:
			m := image.NewNRGBA64(r)
			for i := range img.W * img.H {
				for c := range 3 {
					x := q(img.Data[3*i+c])
					m.Pix[8*i+2*c], m.Pix[8*i+2*c+1] = uint8(x>>8), uint8(x)
				}
				m.Pix[8*i+6], m.Pix[8*i+7] = 0xff, 0xff
			}
			out = m
		}
		return clipped, png.Encode(w, out)
	}, nil
}
