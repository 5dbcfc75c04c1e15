package data

import (
	"fmt"
	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"image"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/tiff"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// quantize maps v in [0, 1] to round(v*maxv), clipping values outside [0, 1].
func quantize(v float32, maxv float64) uint16 {
	return uint16(math.Round(min(max(float64(v), 0), 1) * maxv))
}

// checkWritable returns an error unless b is one finite image with 1 or 3 channels.
func checkWritable(path string, b *batch.Batch) error {
	if b.N != 1 || (b.C != 1 && b.C != 3) {
		return fmt.Errorf("write %s: batch %s must hold one image with 1 or 3 channels", path, b.Shape)
	}
	if err := b.CheckFinite(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ToImage16 converts a one-image batch into a 16-bit image: *image.Gray16 for 1 channel,
// opaque *image.NRGBA64 for 3, with samples round(v*65535) after clipping to [0, 1].
func ToImage16(b *batch.Batch) image.Image {
	r := image.Rect(0, 0, b.W, b.H)
	if b.C == 1 {
		m := image.NewGray16(r)
		for i, v := range b.Data[:b.H*b.W] {
			q := quantize(v, 65535)
			m.Pix[2*i], m.Pix[2*i+1] = byte(q>>8), byte(q)
		}
		return m
	}
	m := image.NewNRGBA64(r)
	for i := range b.H * b.W {
		for c := range 3 {
			q := quantize(b.Data[3*i+c], 65535)
			m.Pix[8*i+2*c], m.Pix[8*i+2*c+1] = byte(q>>8), byte(q)
		}
		m.Pix[8*i+6], m.Pix[8*i+7] = 0xff, 0xff
	}
	return m
}

// ToImage8 converts a one-image batch into an 8-bit image: *image.Gray for 1 channel,
// opaque *image.NRGBA for 3, with samples round(v*255) after clipping to [0, 1].
func ToImage8(b *batch.Batch) image.Image {
	r := image.Rect(0, 0, b.W, b.H)
	if b.C == 1 {
		m := image.NewGray(r)
		for i, v := range b.Data[:b.H*b.W] {
			m.Pix[i] = byte(quantize(v, 255))
		}
		return m
	}
	m := image.NewNRGBA(r)
	for i := range b.H * b.W {
		for c := range 3 {
			m.Pix[4*i+c] = byte(quantize(b.Data[3*i+c], 255))
		}
		m.Pix[4*i+3] = 0xff
	}
	return m
}

// WriteTIFF16 writes a one-image batch (1 or 3 channels, values in [0, 1]) as an
// uncompressed 16-bit TIFF, atomically. Reading it back with ReadImageFile returns each value
// within 1/65535/2 of the original (exactly k/65535 for values of that form).
func WriteTIFF16(path string, img *batch.Batch) error {
	if err := checkWritable(path, img); err != nil {
		return err
	}
	m := ToImage16(img)
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return tiff.Encode(w, m, nil)
	})
}

// WritePNG writes a one-image batch (1 or 3 channels, values in [0, 1]) as an 8-bit PNG,
// atomically. Reading it back returns each value within 1/255/2 of the original.
func WritePNG(path string, img *batch.Batch) error {
	if err := checkWritable(path, img); err != nil {
		return err
	}
	m := ToImage8(img)
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return png.Encode(w, m)
	})
}
