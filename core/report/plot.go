package report

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// Series is one line of a plot.
type Series struct {
	Name string
	X, Y []float64
}

// palette colors the series in order.
var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
	{255, 127, 14, 255}, {23, 190, 207, 255}}

// Plot draws series as lines on shared axes with a legend, title and the y range written at
// the axis ends: enough to read a training curve at a glance. Non-finite points are skipped.
// With logY the y axis is log10 (non-positive points skipped).
func Plot(title string, series []Series, w, h int, logY bool) (*image.RGBA, error) {
	if w < 100 || h < 80 {
		return nil, fmt.Errorf("plot of %dx%d pixels is too small", w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	tf := func(y float64) (float64, bool) {
		if logY {
			if y <= 0 {
				return 0, false
			}
			y = math.Log10(y)
		}
		return y, !math.IsNaN(y) && !math.IsInf(y, 0)
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range s.X {
			if y, ok := tf(s.Y[i]); ok {
				x0, x1, y0, y1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i]), math.Min(y0, y), math.Max(y1, y)
			}
		}
	}
	if math.IsInf(x0, 0) {
		return nil, fmt.Errorf("plot %q has no finite points", title)
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	left, right, top, bottom := 60, w-10, 24, h-24
	axis := color.RGBA{80, 80, 80, 255}
	for x := left; x <= right; x++ {
		img.SetRGBA(x, bottom, axis)
	}
	for y := top; y <= bottom; y++ {
		img.SetRGBA(left, y, axis)
	}
	px := func(x float64) int { return left + int(float64(right-left)*(x-x0)/(x1-x0)) }
	py := func(y float64) int { return bottom - int(float64(bottom-top)*(y-y0)/(y1-y0)) }
	for si, s := range series {
		c := palette[si%len(palette)]
		prevX, prevY, have := 0, 0, false
		for i := range s.X {
			y, ok := tf(s.Y[i])
			if !ok {
				have = false
				continue
			}
			cx, cy := px(s.X[i]), py(y)
			if have {
				line(img, prevX, prevY, cx, cy, c)
			}
			prevX, prevY, have = cx, cy, true
		}
		text(img, right-110, top+14+14*si, c, s.Name)
	}
	label := func(v float64) string {
		if logY {
			return fmt.Sprintf("%.3g", math.Pow(10, v))
		}
		return fmt.Sprintf("%.3g", v)
	}
	text(img, 4, top+10, axis, label(y1))
	text(img, 4, bottom, axis, label(y0))
	text(img, left, h-6, axis, fmt.Sprintf("%.0f", x0))
	text(img, right-40, h-6, axis, fmt.Sprintf("%.0f", x1))
	text(img, left+4, 16, color.RGBA{0, 0, 0, 255}, title)
	return img, nil
}

func line(img *image.RGBA, xa, ya, xb, yb int, c color.RGBA) {
	dx, dy := abs(xb-xa), -abs(yb-ya)
	sx, sy := sign(xb-xa), sign(yb-ya)
	e := dx + dy
	for {
		img.SetRGBA(xa, ya, c)
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}

func sign(a int) int {
	switch {
	case a < 0:
		return -1
	case a > 0:
		return 1
	}
	return 0
}

func text(img *image.RGBA, x, y int, c color.Color, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// WritePlotPNG writes Plot's image atomically as a PNG file.
func WritePlotPNG(path, title string, series []Series, logY bool) error {
	img, err := Plot(title, series, 640, 360, logY)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) })
}
