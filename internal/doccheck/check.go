package doccheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// Problem is one finding, located in a file of the repository (a path relative to its root,
// with '/' separators).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Files are the files of a repository that the checks read, as paths relative to its root.
type Files struct {
	Markdown []string // every .md file
	Go       []string // every .go file, tests included
}

// skipDir reports whether Walk leaves out the folder at rel: hidden folders (.git, .ci),
// testdata folders (fixtures may hold deliberately odd Markdown), and the build and run outputs
// at the root (bin, runs), which a clone does not have.
func skipDir(rel, name string) bool {
	return strings.HasPrefix(name, ".") || name == "testdata" || rel == "bin" || rel == "runs" || name == "node_modules"
}

// Walk lists the Markdown and Go files of the repository at root.
func Walk(root string) (Files, error) {
	var f Files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDir(rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(rel) {
		case ".md":
			f.Markdown = append(f.Markdown, rel)
		case ".go":
			f.Go = append(f.Go, rel)
		}
		return nil
	})
	return f, err
}

// external matches a target with a URL scheme (http:, https:, mailto:): not checked.
var external = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// CheckLinks checks every link of the Markdown file rel (relative to root): the target must
// exist inside the repository, outside its build and run outputs, and an #anchor on a Markdown
// target must name one of its headings. Anchors on other files (GitHub's #L10 line anchors on
// code) are not checked.
func CheckLinks(root, rel string) ([]Problem, error) {
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var out []Problem
	bad := func(l Link, format string, args ...any) {
		out = append(out, Problem{rel, l.Line, fmt.Sprintf("link %q: ", l.Target) + fmt.Sprintf(format, args...)})
	}
	anchors := map[string]map[string]bool{} // by target, read once
	for _, l := range Links(string(src)) {
		if l.Target == "" || external.MatchString(l.Target) {
			continue
		}
		path, anchor, _ := strings.Cut(l.Target, "#")
		p, err := url.PathUnescape(path)
		if err != nil {
			bad(l, "bad percent-encoding: %v", err)
			continue
		}
		if a, err := url.PathUnescape(anchor); err == nil {
			anchor = a
		}
		target := rel
		if p != "" {
			if strings.HasPrefix(p, "/") {
				bad(l, "absolute path: write it relative to %s", rel)
				continue
			}
			target = filepath.ToSlash(filepath.Join(filepath.Dir(rel), p))
			if target == ".." || strings.HasPrefix(target, "../") {
				bad(l, "points outside the repository (a reader's clone has only the repository)")
				continue
			}
			if first, _, _ := strings.Cut(target, "/"); first == "bin" || first == "runs" {
				bad(l, "points into %s/, a build or run output that a clone does not have", first)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, target)); err != nil {
				bad(l, "no such file %s", target)
				continue
			}
		}
		if anchor == "" || filepath.Ext(target) != ".md" {
			continue
		}
		if anchors[target] == nil {
			data, err := os.ReadFile(filepath.Join(root, target))
			if err != nil {
				bad(l, "read target: %v", err)
				continue
			}
			anchors[target] = Anchors(string(data))
		}
		if !anchors[target][anchor] {
			hint := ""
			if c := schema.Closest(anchor, sortedKeys(anchors[target])); len(c) > 0 {
				hint = " (did you mean #" + strings.Join(c, ", #") + "?)"
			}
			bad(l, "no heading of %s has the anchor #%s%s", target, anchor, hint)
		}
	}
	return out, nil
}

// pageMention matches a root-relative mention of a documentation page, "docs/<page>.md", that
// is not part of a longer path.
var pageMention = regexp.MustCompile(`(?:^|[^\w./-])(docs/[\w.-]+\.md)`)

// CheckMentions checks the file rel (Markdown or Go) for mentions of pages that do not exist
// (pageMention, resolved from the repository root) and, unless forbidden is empty, for the
// strings in forbidden, each named with the reason given as its value.
func CheckMentions(root, rel string, forbidden map[string]string) ([]Problem, error) {
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var out []Problem
	for i, l := range strings.Split(string(src), "\n") {
		for _, m := range pageMention.FindAllStringSubmatch(l, -1) {
			if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
				out = append(out, Problem{rel, i + 1, fmt.Sprintf("mentions %s, which does not exist", m[1])})
			}
		}
		for _, s := range sortedKeys(forbidden) {
			if strings.Contains(l, s) {
				out = append(out, Problem{rel, i + 1, fmt.Sprintf("mentions %q: %s", s, forbidden[s])})
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
