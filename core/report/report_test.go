package report

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

func TestGridPlacesTiles(t *testing.T) {
	a := batch.New(2, 3, 3, 1)
	a.Set(1, 0, 0, 0, 1) // second tile, top-left pixel white
	c := batch.New(1, 3, 3, 3)
	c.Set(0, 2, 2, 0, 1) // red pixel bottom-right of first tile of row 2
	img, err := Grid([]Row{{"a", a}, {"c", c}}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 2*(3+gridPad)+gridPad || b.Dy() != 2*(3+gridPad)+gridPad {
		t.Fatalf("grid size %v", b)
	}
	if got := img.RGBAAt(gridPad+3+gridPad, gridPad); got.R != 255 || got.G != 255 {
		t.Errorf("white pixel of tile (0,1) = %v", got)
	}
	if got := img.RGBAAt(gridPad+2, gridPad+3+gridPad+2); got.R != 255 || got.G != 0 {
		t.Errorf("red pixel of tile (1,0) = %v", got)
	}
	if got := img.RGBAAt(gridPad+3+gridPad, gridPad+3+gridPad); got.R != 40 || got.A != 255 {
		t.Errorf("missing tile should be background, got %v", got)
	}
	p := filepath.Join(t.TempDir(), "g.png")
	if err := WriteGridPNG(p, []Row{{"a", a}}, 2); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("written grid does not decode: %v", err)
	}
}

// TestGridScale: small images are enlarged by an integer factor to about DisplayTile pixels,
// each source pixel a solid block (nearest neighbour), and large ones are left alone.
func TestGridScale(t *testing.T) {
	for _, c := range []struct{ h, want int }{{28, 4}, {32, 3}, {64, 2}, {100, 1}, {512, 1}, {3, 33}} {
		if got := DisplayScale([]Row{{"x", batch.New(1, c.h, c.h, 1)}}); got != c.want {
			t.Errorf("DisplayScale(%dx%d) = %d, want %d", c.h, c.h, got, c.want)
		}
	}
	a := batch.New(1, 2, 2, 1)
	a.Set(0, 1, 0, 0, 1) // bottom-left pixel white
	img, err := Grid([]Row{{"a", a}}, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 8+2*gridPad || b.Dy() != 8+2*gridPad {
		t.Fatalf("grid size %v, want %d", b, 8+2*gridPad)
	}
	for y := range 8 {
		for x := range 8 {
			want := uint8(0)
			if y >= 4 && x < 4 {
				want = 255
			}
			if got := img.RGBAAt(gridPad+x, gridPad+y).R; got != want {
				t.Fatalf("pixel (%d,%d) = %d, want %d (block of the source pixel (%d,%d))", y, x, got, want, y/4, x/4)
			}
		}
	}
}

func TestTableFromFlat(t *testing.T) {
	// A plugin metric's ID is namespaced: its column is everything before the estimate.
	tab := TableFromFlat(map[string]float64{"psnr.input": 13.5, "psnr.posterior_mean": 20.7, "ssim.input": 0.2, "pyexample.mae.input": 0.05},
		map[string]float64{"psnr.input": 0.1}, []string{"input", "posterior_mean"})
	md := tab.Markdown()
	for _, want := range []string{"| estimate | psnr | pyexample.mae | ssim |", "| input | 13.5 ± 0.1 | 0.05 ± 0 | 0.2 ± 0 |", "| posterior_mean | 20.7 ± 0 | – | – |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestPlotDrawsSeries(t *testing.T) {
	xs := []float64{0, 1, 2, 3}
	img, err := Plot("loss", []Series{{"a", xs, []float64{4, 3, 2, 1}}, {"b", xs, []float64{1, math.NaN(), 1, 1}}}, 200, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	// The first series starts at the top-left corner of the plot area (x0, y max).
	if c := img.RGBAAt(60, 24); c != palette[0] {
		t.Errorf("start of series a = %v, want %v", c, palette[0])
	}
	// Steep and shallow segments in every direction end (a Bresenham loop that misses its end
	// point never returns).
	for _, pts := range [][4]int{{0, 0, 3, 17}, {17, 3, 0, 0}, {5, 5, 40, 6}, {40, 6, 5, 5}, {2, 9, 2, 1}} {
		line(img, pts[0], pts[1], pts[2], pts[3], palette[1])
		if c := img.RGBAAt(pts[2], pts[3]); c != palette[1] {
			t.Errorf("segment %v does not reach its end", pts)
		}
	}
	if _, err := Plot("empty", []Series{{"a", xs, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}}}, 200, 100, false); err == nil {
		t.Error("plot without finite points accepted")
	}
}
