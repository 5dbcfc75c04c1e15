package report

import (
	"image/png"
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
	img, err := Grid([]Row{{"a", a}, {"c", c}}, 2)
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
	if got := img.RGBAAt(gridPad+3+gridPad, gridPad+3+gridPad); got.R != 40 {
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

func TestTableFromFlat(t *testing.T) {
	tab := TableFromFlat(map[string]float64{"psnr.input": 13.5, "psnr.posterior_mean": 20.7, "ssim.input": 0.2},
		map[string]float64{"psnr.input": 0.1}, []string{"input", "posterior_mean"})
	md := tab.Markdown()
	for _, want := range []string{"| estimate | psnr | ssim |", "| input | 13.5 ± 0.1 | 0.2 ± 0 |", "| posterior_mean | 20.7 ± 0 | – |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
