package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResultsPending: a suite folder without runs gives a page that lists every experiment as
// pending in every table, with no figure; a folder that is not there is an error.
func TestResultsPending(t *testing.T) {
	suite := filepath.Join(t.TempDir(), "paper-cpu")
	if err := os.MkdirAll(filepath.Join(suite, "mnist"), 0o755); err != nil { // started, nothing finished
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "results.md")
	if err := WriteResults(context.Background(), []string{suite}, "", out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	if n := strings.Count(page, "| mnist | paper-cpu | pending (unfinished"); n != 5 {
		t.Errorf("mnist is pending (unfinished) in %d tables, want 5 (Table 1 twice, Table 4, prior check, runs):\n%s", n, page)
	}
	if n := strings.Count(page, "| tubulin-dps | paper-cpu | pending (not run)"); n != 3 {
		t.Errorf("tubulin-dps is pending (not run) in %d tables, want 3 (Table 4, prior check, runs)", n)
	}
	if strings.Contains(page, "Format check only") {
		t.Errorf("a page without runs has the toy banner")
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "|") && strings.Contains(line, "±") {
			t.Errorf("a page without runs shows a figure: %s", line)
		}
	}
	if err := WriteResults(context.Background(), []string{filepath.Join(suite, "absent")}, "", out); err == nil {
		t.Error("a missing suite folder gave no error")
	}
}
