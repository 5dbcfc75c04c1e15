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

// TestPageInclude: an included page becomes a section: its title a level-2 heading, its
// sections level 3, its image links re-rooted at its folder, and the outer page's HTML finds
// the image there.
func TestPageInclude(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteGridPNG(filepath.Join(dir, "sub", "g.png"), []Row{{Label: "a", Images: batch.New(1, 4, 4, 1)}}, 1); err != nil {
		t.Fatal(err)
	}
	sub := Page{Title: "Methods"}
	sub.H2("Amortized")
	sub.P("text")
	sub.Image("g.png", "grid")
	outer := Page{Title: "Results"}
	outer.H2("Table 1")
	outer.Include(&sub, "sub")
	md := outer.Markdown()
	want := "# Results\n\n## Table 1\n\n## Methods\n\n### Amortized\n\ntext\n\n![grid](sub/g.png)\n\n"
	if md != want {
		t.Errorf("markdown:\n%q\nwant\n%q", md, want)
	}
	h, err := outer.HTML(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "<h3>Amortized</h3>") {
		t.Errorf("html lacks the level-3 heading:\n%s", h)
	}
	if sub.Markdown() != "# Methods\n\n## Amortized\n\ntext\n\n![grid](g.png)\n\n" {
		t.Errorf("Include changed the included page:\n%s", sub.Markdown())
	}
}
