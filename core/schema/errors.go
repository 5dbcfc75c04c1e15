package schema

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one user mistake located in a YAML document: the field path (as written in
// the document, e.g. "corruption[1].sigma"), the 1-based line, and what to fix.
type FieldError struct {
	Path string
	Line int // 0 when unknown (for example a value that came from a default)
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Errors is every problem found in one document, sorted by line. Its Error joins them one per
// line, so a user sees all mistakes at once.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when it is empty (so callers avoid the typed-nil trap).
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	es.Sort()
	return es
}

// Sort orders by line, then path.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Path < es[j].Path
	})
}

// Join returns p and name joined as a field path ("a.b", "a[2]").
func Join(p, name string) string {
	switch {
	case p == "":
		return name
	case strings.HasPrefix(name, "["):
		return p + name
	default:
		return p + "." + name
	}
}

// Closest returns the candidates within a small edit distance of s, best first, for
// "did you mean" hints. Candidates sharing a prefix or namespace with s are included too.
func Closest(s string, candidates []string) []string {
	type scored struct {
		c string
		d int
	}
	var out []scored
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), strings.ToLower(c))
		limit := max(2, len(s)/3)
		if d <= limit || (len(s) >= 3 && (strings.HasPrefix(c, s) || strings.Contains(c, s))) {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	names := make([]string, 0, len(out))
	for _, o := range out {
		names = append(names, o.c)
		if len(names) == 3 {
			break
		}
	}
	return names
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
