package doccheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// outsideMentions are the strings no Markdown file and no non-test Go file of the repository may
// contain, with the reason each is refused. They name files that exist only on the machines the
// project was developed on: the design notes it started from and the folder of shared data next
// to the checkout. A reader's clone has neither, so the architecture is documented in
// docs/design.md instead. Test files (*_test.go) are allowed to mention ../shared: a test may
// look for optional data there (walking up to the folder holding go.mod, then ../shared) and
// must skip with a message when it is absent. The Makefile, example pipelines (.yaml) and
// scripts are not read by this check.
var outsideMentions = map[string]string{
	"DESIGN.md":    "the design notes are not in the repository; point to docs/design.md or the docs/ page that holds the content",
	"../shared":    "the shared folder is outside the repository; readers do not have it (only tests may look there, and skip without it)",
	"/work/shared": "an absolute path of a development machine; readers do not have it",
}

// repoRoot walks up from the test's folder to the one holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// repoFiles lists the repository's files and fails unless the walk found the documentation it
// must check (so the checks cannot pass by reading nothing).
func repoFiles(t *testing.T) (string, Files) {
	t.Helper()
	root := repoRoot(t)
	files, err := Walk(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"README.md", "docs/design.md", "docs/contributing.md"} {
		if !slices.Contains(files.Markdown, want) {
			t.Fatalf("the walk of %s did not find %s (found %d Markdown files)", root, want, len(files.Markdown))
		}
	}
	return root, files
}

func report(t *testing.T, probs []Problem, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Error(p)
	}
}

// TestDocLinks checks every relative link and anchor of every Markdown file of the repository.
func TestDocLinks(t *testing.T) {
	root, files := repoFiles(t)
	for _, f := range files.Markdown {
		probs, err := CheckLinks(root, f)
		report(t, probs, err)
	}
}

// TestDocMentions checks that every "docs/<page>.md" named in Markdown or Go exists, and that no
// Markdown file or non-test Go file points to a file outside the repository (outsideMentions).
func TestDocMentions(t *testing.T) {
	root, files := repoFiles(t)
	for _, f := range append(slices.Clone(files.Markdown), files.Go...) {
		if strings.HasPrefix(f, "internal/doccheck/") && strings.HasSuffix(f, "_test.go") {
			continue // this package's tests hold deliberately broken examples
		}
		forbidden := outsideMentions
		if strings.HasSuffix(f, "_test.go") {
			forbidden = nil
		}
		probs, err := CheckMentions(root, f, forbidden)
		report(t, probs, err)
	}
}
