package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers "jpeg" with image.Decode
	_ "image/png"  // registers "png"
	"os"

	_ "golang.org/x/image/tiff" // registers "tiff" (8/16-bit gray, RGB(A), paletted)

	"github.com/flowdiff/flowdiff-go/core/batch"
)

const (
	// DefaultMaxSide is the largest image side, in pixels, that the decoders accept unless the
	// caller sets another limit; DecodeConfig rejects larger images before pixels are decoded.
	DefaultMaxSide = 16384
	// maxFileBytes bounds the size of one image file read into memory (1 GiB).
	maxFileBytes = 1 << 30
)

// decodeFormats are the formats this package reads; others that some other import may have
// registered with package image (gif, bmp, webp) are rejected.
var decodeFormats = map[string]bool{"png": true, "jpeg": true, "tiff": true}

// DecodeImage decodes a PNG, JPEG or TIFF image from data. The header is read first with
// image.DecodeConfig; an image with a side outside 1..maxSide (DefaultMaxSide when
// maxSide <= 0) is rejected before its pixels are decoded. name is used in errors only. It
// returns the image and the format name.
func DecodeImage(data []byte, name string, maxSide int) (image.Image, string, error) {
	if maxSide <= 0 {
		maxSide = DefaultMaxSide
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode header of %s: %w", name, err)
	}
	if !decodeFormats[format] {
		return nil, "", fmt.Errorf("decode %s: format %q not supported (want png, jpeg or tiff)", name, format)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, "", fmt.Errorf("decode %s: %s image is %dx%d, each side must be in 1..%d",
			name, format, cfg.Width, cfg.Height, maxSide)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode %s: %w", name, err)
	}
	if r := img.Bounds(); r.Dx() != cfg.Width || r.Dy() != cfg.Height {
		return nil, "", fmt.Errorf("decode %s: header says %dx%d but pixels are %dx%d",
			name, cfg.Width, cfg.Height, r.Dx(), r.Dy())
	}
	return img, format, nil
}

// ReadImageFile reads and decodes one image file into a [1, H, W, channels] batch normalized
// as the package doc says (v/255 or v/65535; BT.601 luma for channels = 1).
func ReadImageFile(path string, channels, maxSide int) (*batch.Batch, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	img, _, err := DecodeImage(data, path, maxSide)
	if err != nil {
		return nil, err
	}
	b, err := ImageToBatch(img, channels)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", path, err)
	}
	return b, nil
}

// readFileLimited reads a whole file, refusing files over maxFileBytes.
func readFileLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("read image %s: %d bytes exceeds the %d-byte limit", path, st.Size(), maxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	return data, nil
}

// ImageToBatch converts img into a [1, H, W, channels] batch, channels 1 (gray: BT.601 luma
// of color images) or 3 (RGB: gray copied to each channel). 8-bit samples map to v/255 and
// 16-bit samples to v/65535; the two agree for 8-bit data read through 16-bit color.
func ImageToBatch(img image.Image, channels int) (*batch.Batch, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("channels %d: want 1 (gray) or 3 (RGB)", channels)
	}
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("empty image %v", r)
	}
	b := batch.New(1, h, w, channels)
	put := func(i int, gray float32) {
		for c := range channels {
			b.Data[i*channels+c] = gray
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				put(y*w+x, float32(v)/255)
			}
		}
	case *image.Gray16:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			for x := range w {
				put(y*w+x, float32(uint16(row[2*x])<<8|uint16(row[2*x+1]))/65535)
			}
		}
	default:
		rgba64, _ := img.(image.RGBA64Image)
		for y := range h {
			for x := range w {
				var c color.RGBA64
				if rgba64 != nil {
					c = rgba64.RGBA64At(r.Min.X+x, r.Min.Y+y)
				} else {
					cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
					c = color.RGBA64{uint16(cr), uint16(cg), uint16(cb), uint16(ca)}
				}
				rf, gf, bf := float32(c.R)/65535, float32(c.G)/65535, float32(c.B)/65535
				i := y*w + x
				if channels == 3 {
					b.Data[3*i], b.Data[3*i+1], b.Data[3*i+2] = rf, gf, bf
				} else {
					b.Data[i] = 0.299*rf + 0.587*gf + 0.114*bf
				}
			}
		}
	}
	return b, nil
}
