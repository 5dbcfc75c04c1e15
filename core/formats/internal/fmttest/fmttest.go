// Package fmttest holds test helpers shared by the format packages of core/formats: the
// memory a decode allocates, the Python interpreter with the reference readers (NumPy,
// tifffile, mrcfile) for interoperability tests, and the shared data folder.
package fmttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Allocated returns the bytes allocated on the heap while f runs (runtime.MemStats.TotalAlloc;
// other goroutines of the test binary count too, so callers compare with generous bounds).
func Allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Python returns the path of a python3 that imports every module of modules (Debian's
// /usr/bin/python3 first, where `make deps` installs python3-numpy, python3-tifffile and
// python3-mrcfile). Without one the test is skipped, or fails when $CI is set.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	var candidates []string
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		candidates = append(candidates, "/usr/bin/python3")
	}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	imports := "import " + strings.Join(modules, ", ")
	var last string
	for _, p := range candidates {
		out, err := exec.Command(p, "-c", imports).CombinedOutput()
		if err == nil {
			return p
		}
		last = strings.TrimSpace(string(out))
	}
	msg := "python3 with " + strings.Join(modules, ", ") + " not found (run `make deps`: Debian python3-numpy, python3-tifffile, python3-mrcfile)"
	if last != "" {
		msg += ": " + last
	}
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Tool returns the path of the command name, skipping the test without it (failing when $CI
// is set); pkg names the Debian package that provides it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found (run `make deps`: Debian " + pkg + ")"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RunPython runs script with python and args, failing the test (with the script's output)
// when it exits non-zero, and returns its standard output.
func RunPython(t testing.TB, python, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return out
}

// SharedData returns the folder shared/data/sub, found through $FLOWDIFF_SHARED or as the
// folder "shared" beside the repository root (the folder holding go.mod), or skips the test.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	var roots []string
	if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
		roots = append(roots, env)
	}
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				roots = append(roots, filepath.Join(filepath.Dir(d), "shared"))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, r := range roots {
		p := filepath.Join(r, "data", sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	t.Skipf("shared data %s not found under $FLOWDIFF_SHARED or %v", sub, roots)
	return ""
}
