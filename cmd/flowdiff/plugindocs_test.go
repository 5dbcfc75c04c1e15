package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
)

// docListing returns the fenced block that follows the marker "<!-- listing: name" in doc.
func docListing(t *testing.T, doc, name string) string {
	t.Helper()
	i := strings.Index(doc, "<!-- listing: "+name)
	if i < 0 {
		t.Fatalf("docs/plugins.md has no listing %q", name)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```")
	body := rest[start+3:]
	body = body[strings.Index(body, "\n")+1:] // skip the fence's language word
	end := strings.Index(body, "```")
	if start < 0 || end < 0 {
		t.Fatalf("listing %q has no fenced block", name)
	}
	return body[:end]
}

// TestPluginFromDocs follows docs/plugins.md's "From an empty folder" as a plugin author
// would: it writes the doc's main.go and plugin.yaml into an empty folder outside the
// repository, runs the doc's commands one by one (the go and cp commands as written, with the
// checkout's path for ../flowdiff-go and no network, GOPROXY=off; the flowdiff commands
// through this binary's CLI), and requires `plugins check` to pass.
func TestPluginFromDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin in a new module")
	}
	root, err := plugintest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docs", "plugins.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	dir := filepath.Join(t.TempDir(), "mylab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, listing := range map[string]string{"main.go": "mylab/main.go", "plugin.yaml": "mylab/plugin.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(docListing(t, doc, listing)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOPROXY=off", "GOWORK=off")
	for _, line := range strings.Split(strings.TrimSpace(docListing(t, doc, "mylab/commands")), "\n") {
		line = strings.ReplaceAll(line, "../flowdiff-go", root)
		words := strings.Fields(line)
		switch {
		case words[0] == "go":
			cmd := exec.Command("go", words[1:]...)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
		case words[0] == "cp" && len(words) == 3:
			src, dst := words[1], filepath.Join(dir, words[2], filepath.Base(words[1]))
			if !filepath.IsAbs(src) {
				src = filepath.Join(dir, src)
			}
			data, err := os.ReadFile(src)
			if err == nil {
				err = os.WriteFile(dst, data, 0o644)
			}
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		case strings.HasSuffix(words[0], "bin/flowdiff"):
			args := words[1:]
			for i, a := range args {
				if strings.HasPrefix(a, "dist") {
					args[i] = filepath.Join(dir, a)
				}
			}
			code, out, errOut := runCLI(t, args...)
			if code != exitOK {
				t.Fatalf("%s: exit %d\n%s\n%s", line, code, out, errOut)
			}
			t.Logf("%s:\n%s", line, out)
		default:
			t.Fatalf("the test does not know how to run %q: teach it, or keep the listing to go, cp and flowdiff", line)
		}
	}
}
