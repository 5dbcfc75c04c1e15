package doccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSlug checks Slug against anchors GitHub gives. The first cases are github-slugger's README
// examples (github.com/Flet/github-slugger); the rest are headings of this repository's docs
// with the anchors GitHub shows for them.
func TestSlug(t *testing.T) {
	cases := []struct{ in, want string }{
		{"foo", "foo"},
		{"foo bar baz", "foo-bar-baz"},
		{"Привет non-latin 你好", "привет-non-latin-你好"},
		{"😄 emoji", "-emoji"},
		{"The protocol (version 1)", "the-protocol-version-1"},
		{"flowdiff sample: sampling without retraining", "flowdiff-sample-sampling-without-retraining"},
		{"blur.gaussian", "blurgaussian"},
		{"noise.poisson_gaussian", "noisepoisson_gaussian"},
		{"Gaussian blur 33×33, σ = 1.5 (the paper's deblurring operator), batches of 64",
			"gaussian-blur-3333-σ--15-the-papers-deblurring-operator-batches-of-64"},
		{"Learning-rate sweep (H100, xla:cuda, 2026-11-27)", "learning-rate-sweep-h100-xlacuda-2026-11-27"},
	}
	for _, c := range cases {
		if got := Slug(c.in); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestAnchors checks heading extraction: markup stripped before slugging, repeated headings
// numbered as GitHub numbers them, setext headings, explicit anchors, and nothing from fences.
func TestAnchors(t *testing.T) {
	src := strings.Join([]string{
		"# Title",
		"## `flowdiff sample`: sampling",
		"## Usage",
		"## Usage",
		"### Usage ###",
		"## See [the guide](guide.md) *now*",
		"Setext title",
		"============",
		"```sh",
		"# not a heading",
		"```",
		"~~~",
		"## also not",
		"~~~",
		`<a name="custom-spot"></a>`,
		"#hashtag is not a heading",
	}, "\n")
	want := []string{"title", "flowdiff-sample-sampling", "usage", "usage-1", "usage-2", "see-the-guide-now", "setext-title", "custom-spot"}
	got := Anchors(src)
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("Anchors = %v, want %v", keys, want)
	}
}

// TestLinks checks link extraction: inline links, images, titles, angle brackets and reference
// definitions count; code spans and fenced code do not.
func TestLinks(t *testing.T) {
	src := strings.Join([]string{
		"See [design](docs/design.md) and [maths](docs/design.md#the-maths).",
		"![grid](grid.png \"a title\") and [spaced](<my file.md>)",
		"Code: `[not](a-link.md)` and ``[nor](this.md)``, but [yes](yes.md).",
		"```",
		"[inside](fence.md)",
		"```",
		"[ref]: ref/target.md",
		"[nested [brackets]](nested.md) and [web](https://example.com)",
	}, "\n")
	want := []Link{
		{1, "docs/design.md"}, {1, "docs/design.md#the-maths"},
		{2, "grid.png"}, {2, "my file.md"},
		{3, "yes.md"},
		{7, "ref/target.md"},
		{8, "nested.md"}, {8, "https://example.com"},
	}
	if got := Links(src); !slices.Equal(got, want) {
		t.Errorf("Links =\n%v\nwant\n%v", got, want)
	}
}

// TestCheckFindsBreakage builds a small repository with one link, anchor and mention of each
// kind, good and bad, and checks that exactly the bad ones are reported, at their lines.
func TestCheckFindsBreakage(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/x\n")
	write("docs/a.md", "# A\n## The maths\n")
	write("bin/tool", "")
	write("testdata/broken.md", "[x](missing.md)\n")
	write("README.md", strings.Join([]string{
		"[ok](docs/a.md) [ok anchor](docs/a.md#the-maths) [web](https://example.com/none.md)", // 1
		"[missing](docs/b.md)",              // 2
		"[bad anchor](docs/a.md#the-math)",  // 3
		"[outside](../shared/data)",         // 4
		"[absolute](/docs/a.md)",            // 5
		"[output](bin/tool)",                // 6
		"[self](#readme) [self ok](#top)",   // 7
		"# Top",                             // 8
		"Read docs/a.md, not docs/gone.md.", // 9
		"Notes live in the NOTES file.",     // 10
	}, "\n"))
	write("pkg/p.go", "// See docs/gone.md and NOTES.\npackage p\n")
	write("pkg/p_test.go", "// NOTES are fine in tests.\npackage p\n")

	files, err := Walk(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"README.md", "docs/a.md"}; !slices.Equal(files.Markdown, want) {
		t.Errorf("Walk found Markdown %v, want %v (testdata and bin skipped)", files.Markdown, want)
	}
	var got []string
	for _, f := range files.Markdown {
		probs, err := CheckLinks(root, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			got = append(got, fmt.Sprintf("%s:%d", p.File, p.Line))
		}
	}
	forbidden := map[string]string{"NOTES": "not in the repository"}
	for _, f := range append(files.Markdown, files.Go...) {
		fb := forbidden
		if strings.HasSuffix(f, "_test.go") {
			fb = nil
		}
		probs, err := CheckMentions(root, f, fb)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			got = append(got, fmt.Sprintf("%s:%d", p.File, p.Line))
		}
	}
	want := []string{
		"README.md:2", "README.md:3", "README.md:4", "README.md:5", "README.md:6", "README.md:7", // links
		"README.md:2", "README.md:9", "README.md:10", "pkg/p.go:1", "pkg/p.go:1", // mentions: missing pages, a forbidden name
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems at %v, want %v", got, want)
	}
}
