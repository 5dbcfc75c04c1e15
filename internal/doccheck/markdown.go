// Package doccheck checks the repository's documentation as a reader on GitHub or in a clone
// meets it. Its tests (`make docs-check`; `make test` runs them with every other test) walk
// README.md, docs/*.md and every other Markdown file of the repository and fail, naming
// file:line, when
//
//   - a relative link [text](path) or [text](path#anchor) names a file that does not exist, or
//     one outside the repository;
//   - an #anchor names no heading of its target Markdown file (GitHub's slug rules, see Slug);
//   - a root-relative mention of a page, "docs/<page>.md" in prose or a Go comment, names no page;
//   - a Markdown file or a non-test Go file mentions a file outside the repository (the forbidden
//     mentions are listed, with the rule's reasons, in links_test.go).
//
// External links (http, https, mailto) are not fetched. Links inside code spans and fenced code
// blocks are examples, not links, and are skipped; so are headings inside fences.
package doccheck

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Link is one link of a Markdown file: its 1-based line and its target as written (path,
// optional #anchor).
type Link struct {
	Line   int
	Target string
}

var (
	// inlineLink matches [text](target) and ![alt](target), with an optional "title" and an
	// optional <...> around the target. The text may hold one level of brackets.
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)`)
	// refDef matches a reference definition, [label]: target.
	refDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	// htmlAnchor matches an explicit anchor, <a name="x"> or id="x".
	htmlAnchor = regexp.MustCompile(`(?i)<a\s[^>]*(?:name|id)="([^"]+)"`)
	// atxHeading matches "# Title", up to six #s.
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// setextUnderline matches the line under a setext heading.
	setextUnderline = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	// fence opens or closes a fenced code block.
	fence = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	// htmlTag matches an inline HTML tag (dropped from heading text).
	htmlTag = regexp.MustCompile(`<[^>]+>`)
)

// lines splits Markdown source into lines, blanking those inside fenced code blocks so that
// callers see prose only (line numbers are kept).
func lines(src string) []string {
	out := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	open := "" // the fence that opened the current block, "" outside one
	for i, l := range out {
		m := fence.FindStringSubmatch(l)
		switch {
		case open == "" && m != nil:
			open = m[1]
			out[i] = ""
		case open != "":
			if m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(l[strings.Index(l, m[1])+len(m[1]):]) == "" {
				open = ""
			}
			out[i] = ""
		}
	}
	return out
}

// blankCodeSpans replaces the contents of code spans (`...`, “...“) by spaces, so links
// shown as code are not taken for links. An unmatched run of backticks is literal text.
func blankCodeSpans(l string) string {
	b := []byte(l)
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := run(b, i)
		end := -1
		for j := i + n; j < len(b); {
			if b[j] != '`' {
				j++
				continue
			}
			if m := run(b, j); m == n {
				end = j
				break
			} else {
				j += m
			}
		}
		if end < 0 {
			i += n
			continue
		}
		for k := i; k < end+n; k++ {
			b[k] = ' '
		}
		i = end + n
	}
	return string(b)
}

// run is the length of the run of backticks starting at b[i].
func run(b []byte, i int) int {
	n := 0
	for i+n < len(b) && b[i+n] == '`' {
		n++
	}
	return n
}

// Links returns the links of Markdown source src outside code, in order: inline links and
// images, and reference definitions.
func Links(src string) []Link {
	var out []Link
	for i, l := range lines(src) {
		l = blankCodeSpans(l)
		if m := refDef.FindStringSubmatch(l); m != nil {
			out = append(out, Link{Line: i + 1, Target: strings.Trim(m[1], "<>")})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
			out = append(out, Link{Line: i + 1, Target: strings.Trim(m[1], "<>")})
		}
	}
	return out
}

// Anchors returns the anchors of Markdown source src: the slug of every heading (ATX and
// setext, outside fenced code), numbered as GitHub numbers repeated headings, and every explicit
// <a name> or id.
func Anchors(src string) map[string]bool {
	out := map[string]bool{}
	ls := lines(src)
	for i, l := range ls {
		text, ok := "", false
		if m := atxHeading.FindStringSubmatch(l); m != nil {
			text, ok = m[2], true
		} else if i+1 < len(ls) && strings.TrimSpace(l) != "" && setextUnderline.MatchString(ls[i+1]) &&
			!strings.HasPrefix(strings.TrimSpace(l), "|") && !strings.HasPrefix(strings.TrimSpace(l), "-") {
			text, ok = l, true
		}
		if ok {
			base := Slug(headingText(text))
			s := base
			for n := 1; out[s]; n++ {
				s = base + "-" + strconv.Itoa(n)
			}
			out[s] = true
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// headingText is the plain text GitHub slugs for a heading's source: links and images give
// their text, code spans their content, emphasis markers and HTML tags nothing.
func headingText(s string) string {
	s = inlineLink.ReplaceAllStringFunc(s, func(m string) string {
		m = strings.TrimPrefix(m, "!")
		return m[1:strings.LastIndex(m, "](")]
	})
	s = htmlTag.ReplaceAllString(s, "")
	s = strings.NewReplacer("`", "", "*", "").Replace(s)
	return strings.TrimSpace(s)
}

// Slug is GitHub's anchor for a heading whose plain text is s, as github-slugger computes it
// (github.com/Flet/github-slugger, the library that emulates GitHub's heading ids): lowercase;
// drop every rune in the Unicode categories of punctuation (but '-' and '_'), symbols, separators
// (but the space, which becomes '-'), other numbers, and control, format and private-use runes.
// So "`flowdiff sample`: sampling" gives "flowdiff-sample-sampling" and "33×33, σ = 1.5" gives
// "3333-σ--15".
func Slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r == '_':
			b.WriteRune(r)
		case unicode.In(r, unicode.P, unicode.S, unicode.Z, unicode.No, unicode.Cc, unicode.Cf, unicode.Co):
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
