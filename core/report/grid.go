// Package report turns a run's outputs into what people read: PNG image grids, training-curve
// plots, and a Page (headings, paragraphs, tables, images) rendered as Markdown and as one
// self-contained HTML file with the images embedded. Machines read metrics.json instead.
package report

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Row is one row of a grid: a label and images [N,H,W,C] shown left to right.
type Row struct {
	Label  string
	Images *batch.Batch
}

// gridPad is the gap between tiles, in pixels.
const gridPad = 2

// DisplayTile is the size, in screen pixels, that small images are enlarged to in the grids
// people read: a 28-pixel MNIST digit is drawn 4x (112 pixels), a 32-pixel CIFAR image 3x.
const DisplayTile = 100

// DisplayScale is the integer factor that brings the largest image of rows to about
// DisplayTile pixels (nearest neighbour, so pixels stay visible as squares); 1 for images of
// DisplayTile pixels or more.
func DisplayScale(rows []Row) int {
	m := 0
	for _, r := range rows {
		m = max(m, r.Images.H, r.Images.W)
	}
	if m == 0 {
		return 1
	}
	return max(1, int(math.Round(float64(DisplayTile)/float64(m))))
}

// Grid composes rows of images into one 8-bit image, each pixel drawn as a scale×scale block
// (nearest neighbour). Intensities are clipped to [0,1]; rows may hold different image sizes
// (tiles are placed at the largest size, top-left aligned); a row with fewer images leaves
// blanks. Grayscale rows are drawn gray, 3-channel rows RGB.
func Grid(rows []Row, cols, scale int) (*image.RGBA, error) {
	if len(rows) == 0 || cols <= 0 || scale <= 0 {
		return nil, fmt.Errorf("grid needs rows, columns and a positive scale, got %d rows, %d columns, scale %d", len(rows), cols, scale)
	}
	th, tw := 0, 0
	for _, r := range rows {
		if r.Images.C != 1 && r.Images.C != 3 {
			return nil, fmt.Errorf("row %q: %d channels; grids show 1 or 3", r.Label, r.Images.C)
		}
		th, tw = max(th, r.Images.H*scale), max(tw, r.Images.W*scale)
	}
	W := cols*(tw+gridPad) + gridPad
	H := len(rows)*(th+gridPad) + gridPad
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 40, 40, 40, 255 // opaque dark gray background
	}
	for ri, r := range rows {
		b := r.Images
		for n := 0; n < min(cols, b.N); n++ {
			ox, oy := gridPad+n*(tw+gridPad), gridPad+ri*(th+gridPad)
			for y := range b.H * scale {
				for x := range b.W * scale {
					sy, sx := y/scale, x/scale
					var c color.RGBA
					if b.C == 1 {
						v := to8(b.At(n, sy, sx, 0))
						c = color.RGBA{v, v, v, 255}
					} else {
						c = color.RGBA{to8(b.At(n, sy, sx, 0)), to8(b.At(n, sy, sx, 1)), to8(b.At(n, sy, sx, 2)), 255}
					}
					img.SetRGBA(ox+x, oy+y, c)
				}
			}
		}
	}
	return img, nil
}

func to8(v float32) uint8 {
	switch {
	case v <= 0 || v != v:
		return 0
	case v >= 1:
		return 255
	}
	return uint8(v*255 + 0.5)
}

// WriteGridPNG writes Grid(rows, cols, DisplayScale(rows)) atomically as a PNG file: small
// images are enlarged to be read.
func WriteGridPNG(path string, rows []Row, cols int) error {
	img, err := Grid(rows, cols, DisplayScale(rows))
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) })
}
