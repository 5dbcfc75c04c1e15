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

// Grid composes rows of images into one 8-bit image. Intensities are clipped to [0,1]; rows
// may hold different image sizes (tiles are placed at the largest size, top-left aligned);
// a row with fewer images leaves blanks. Grayscale rows are drawn gray, 3-channel rows RGB.
func Grid(rows []Row, cols int) (*image.RGBA, error) {
	if len(rows) == 0 || cols <= 0 {
		return nil, fmt.Errorf("grid needs rows and columns, got %d rows and %d columns", len(rows), cols)
	}
	th, tw := 0, 0
	for _, r := range rows {
		if r.Images.C != 1 && r.Images.C != 3 {
			return nil, fmt.Errorf("row %q: %d channels; grids show 1 or 3", r.Label, r.Images.C)
		}
		th, tw = max(th, r.Images.H), max(tw, r.Images.W)
	}
	W := cols*(tw+gridPad) + gridPad
	H := len(rows)*(th+gridPad) + gridPad
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 40 // dark gray background
	}
	for ri, r := range rows {
		b := r.Images
		for n := 0; n < min(cols, b.N); n++ {
			ox, oy := gridPad+n*(tw+gridPad), gridPad+ri*(th+gridPad)
			for y := range b.H {
				for x := range b.W {
					var c color.RGBA
					if b.C == 1 {
						v := to8(b.At(n, y, x, 0))
						c = color.RGBA{v, v, v, 255}
					} else {
						c = color.RGBA{to8(b.At(n, y, x, 0)), to8(b.At(n, y, x, 1)), to8(b.At(n, y, x, 2)), 255}
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

// WriteGridPNG writes Grid(rows, cols) atomically as a PNG file.
func WriteGridPNG(path string, rows []Row, cols int) error {
	img, err := Grid(rows, cols)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) })
}
