package report

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestPageRenders checks both renderings of one page: Markdown links the image file and lays
// the table out; HTML embeds the very PNG bytes, escapes text and pads short rows.
func TestPageRenders(t *testing.T) {
	dir := t.TempDir()
	img := batch.New(2, 4, 4, 1)
	if err := WriteGridPNG(filepath.Join(dir, "g.png"), []Row{{Label: "a", Images: img}}, 2); err != nil {
		t.Fatal(err)
	}
	var p Page
	p.Title = "run <1>"
	p.H2("Metrics")
	p.P("value of `psnr`")
	p.Table([]string{"estimate", "psnr", "ssim"}, [][]string{{"input", "14.0 ± 0.1"}})
	p.Image("g.png", "grid")
	md := p.Markdown()
	for _, want := range []string{"# run <1>", "## Metrics", "| estimate | psnr | ssim |\n|---|---|---|\n| input | 14.0 ± 0.1 | – |", "![grid](g.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	h, err := p.HTML(dir)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := os.ReadFile(filepath.Join(dir, "g.png"))
	for _, want := range []string{"<title>run &lt;1&gt;</title>", "<code>psnr</code>", "<td>–</td>",
		"data:image/png;base64," + base64.StdEncoding.EncodeToString(png)} {
		if !strings.Contains(h, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	p.Image("missing.png", "x")
	if _, err := p.HTML(dir); err == nil {
		t.Error("a missing image was not reported")
	}
}
