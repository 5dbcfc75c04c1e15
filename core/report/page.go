package report

import (
	"encoding/base64"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
)

// Page is a report document with one content model and two renderings: Markdown (images
// linked as files next to it) and self-contained HTML (images embedded as base64 PNG data
// URIs, so the one file can be mailed or archived).
type Page struct {
	Title  string
	blocks []block
}

type block struct {
	kind   string // h2, h3, p, img, table
	text   string
	path   string // img: relative to the page's folder
	header []string
	rows   [][]string
}

// H2 adds a section heading.
func (p *Page) H2(s string) { p.blocks = append(p.blocks, block{kind: "h2", text: s}) }

// Include adds sub as a section of p: its title as a section heading, its sections one level
// down, and its image links prefixed with dir (sub's folder relative to p's), so a page written
// into its own folder can also appear inside another.
func (p *Page) Include(sub *Page, dir string) {
	p.H2(sub.Title)
	for _, bl := range sub.blocks {
		switch bl.kind {
		case "h2":
			bl.kind = "h3"
		case "h3":
			bl.kind = "p" // a fourth level is not kept: the heading stays as a paragraph
		case "img":
			bl.path = filepath.ToSlash(filepath.Join(dir, bl.path))
		}
		p.blocks = append(p.blocks, bl)
	}
}

// P adds a paragraph of plain text (Markdown inline code in backticks is kept in both forms).
func (p *Page) P(format string, args ...any) {
	p.blocks = append(p.blocks, block{kind: "p", text: fmt.Sprintf(format, args...)})
}

// Image adds a PNG at path, relative to the folder the page is written into.
func (p *Page) Image(path, alt string) {
	p.blocks = append(p.blocks, block{kind: "img", path: filepath.ToSlash(path), text: alt})
}

// Table adds a table of text cells; rows shorter than the header are padded with "–".
func (p *Page) Table(header []string, rows [][]string) {
	p.blocks = append(p.blocks, block{kind: "table", header: header, rows: rows})
}

// Markdown renders the page as GitHub-flavoured Markdown.
func (p *Page) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", p.Title)
	for _, bl := range p.blocks {
		switch bl.kind {
		case "h2":
			fmt.Fprintf(&b, "## %s\n\n", bl.text)
		case "h3":
			fmt.Fprintf(&b, "### %s\n\n", bl.text)
		case "p":
			fmt.Fprintf(&b, "%s\n\n", bl.text)
		case "img":
			fmt.Fprintf(&b, "![%s](%s)\n\n", bl.text, bl.path)
		case "table":
			b.WriteString("| " + strings.Join(bl.header, " | ") + " |\n|")
			b.WriteString(strings.Repeat("---|", len(bl.header)) + "\n")
			for _, r := range bl.rows {
				b.WriteString("| " + strings.Join(padRow(r, len(bl.header)), " | ") + " |\n")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// HTML renders the page as one self-contained HTML file, reading each image from dir (the
// folder the page belongs to) and embedding it. A missing image is an error.
func (p *Page) HTML(dir string) (string, error) {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n<style>%s</style></head><body>\n<h1>%s</h1>\n",
		esc(p.Title), pageCSS, esc(p.Title))
	for _, bl := range p.blocks {
		switch bl.kind {
		case "h2":
			fmt.Fprintf(&b, "<h2>%s</h2>\n", esc(bl.text))
		case "h3":
			fmt.Fprintf(&b, "<h3>%s</h3>\n", esc(bl.text))
		case "p":
			fmt.Fprintf(&b, "<p>%s</p>\n", inlineCode(esc(bl.text)))
		case "img":
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(bl.path)))
			if err != nil {
				return "", fmt.Errorf("report image: %w", err)
			}
			fmt.Fprintf(&b, "<figure><img alt=\"%s\" src=\"data:image/png;base64,%s\"><figcaption>%s</figcaption></figure>\n",
				esc(bl.text), base64.StdEncoding.EncodeToString(data), esc(bl.path))
		case "table":
			b.WriteString("<table>\n<tr>")
			for _, h := range bl.header {
				fmt.Fprintf(&b, "<th>%s</th>", esc(h))
			}
			b.WriteString("</tr>\n")
			for _, r := range bl.rows {
				b.WriteString("<tr>")
				for _, c := range padRow(r, len(bl.header)) {
					fmt.Fprintf(&b, "<td>%s</td>", inlineCode(esc(c)))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</table>\n")
		}
	}
	b.WriteString("</body></html>\n")
	return b.String(), nil
}

const pageCSS = `body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}img{image-rendering:pixelated;width:100%;max-width:720px}
figure{margin:1em 0}figcaption{color:#666;font-size:small}code{background:#eee;padding:0 3px}`

func padRow(r []string, n int) []string {
	out := append([]string(nil), r...)
	for len(out) < n {
		out = append(out, "–")
	}
	return out
}

// inlineCode turns Markdown's `code` spans of already escaped text into <code> elements.
func inlineCode(s string) string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // unbalanced: leave as is
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<code>" + p + "</code>")
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}
