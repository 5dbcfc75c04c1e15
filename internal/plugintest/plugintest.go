// Package plugintest builds the example plugins for tests: each example is compiled once per
// test binary into a shared temporary folder, copied with its manifest into a plugin folder
// and sealed, so `go test ./...` needs no `make plugins` first. Packages using it call Main
// from their TestMain, which removes the folder and stops plugin processes at the end.
package plugintest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowdiff/flowdiff-go/plugins/host"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error

	mu     sync.Mutex
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	bin  string // compiled binary (Go examples) or source folder (Python)
	err  error
}

// Main runs the tests, then removes the shared folder and stops every plugin process.
func Main(m *testing.M) int {
	code := m.Run()
	host.Cleanup()
	if root != "" {
		os.RemoveAll(root)
	}
	return code
}

// ModuleRoot returns the folder of the module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the flowdiff module")
	}
	return filepath.Dir(mod), nil
}

func sharedRoot() (string, error) {
	rootOnce.Do(func() { root, rootErr = os.MkdirTemp("", "flowdiff-plugintest-") })
	return root, rootErr
}

// binary compiles plugins/examples/<name> once and returns the binary's path.
func binary(name string) (string, error) {
	mu.Lock()
	b, ok := builds[name]
	if !ok {
		b = &build{}
		builds[name] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		r, err := sharedRoot()
		if err != nil {
			b.err = err
			return
		}
		mod, err := ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(r, "bin", name)
		cmd := exec.Command("go", "build", "-o", b.bin, "./plugins/examples/"+name)
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build example %s: %v\n%s", name, err, out)
		}
	})
	return b.bin, b.err
}

// Folder returns a new sealed plugin folder (inside t's temporary folder) for the Go example
// name. The binary is compiled once per test binary. args, when given, are written into the
// manifest after sealing (so a plugin that fails to start with them still gets a manifest).
func Folder(t testing.TB, name string, args ...string) string {
	t.Helper()
	bin, err := binary(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	mustMkdir(t, dir)
	copyFile(t, bin, filepath.Join(dir, name), 0o755)
	writeManifest(t, name, dir)
	seal(t, dir)
	if len(args) > 0 {
		m, err := host.ReadManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		m.Args = args
		if err := m.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// PythonFolder returns a sealed folder of the Python example. It fails t, saying what to
// install, when /usr/bin/python3 cannot import Debian's python3-grpcio and python3-protobuf:
// `make deps` installs them and `make test` (CI) runs it first, so a missing package is a
// broken set-up to report, not a reason to skip the only test of a non-Go plugin.
func PythonFolder(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		t.Fatalf("the Python example plugin needs /usr/bin/python3 with Debian's python3-grpcio and python3-protobuf "+
			"(run `make deps`, or apt-get install python3-grpcio python3-protobuf): %v\n%s", err, out)
	}
	mod, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(mod, "plugins", "examples", "pyexample")
	dir := filepath.Join(t.TempDir(), "pyexample")
	mustMkdir(t, dir)
	for _, f := range []string{"plugin.py", "flowdiff_pb2.py", "flowdiff_pb2_grpc.py", "plugin.yaml"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, f), 0o755)
	}
	seal(t, dir)
	return dir
}

func mustMkdir(t testing.TB, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t testing.TB, from, to string, perm os.FileMode) {
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, data, perm)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// writeManifest copies the example's plugin.yaml.
func writeManifest(t testing.TB, name, dir string) {
	mod, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(mod, "plugins", "examples", name, host.ManifestFile), filepath.Join(dir, host.ManifestFile), 0o644)
}

func seal(t testing.TB, dir string) {
	if _, err := host.Seal(context.Background(), dir, host.Options{}); err != nil {
		t.Fatalf("seal %s: %v", dir, err)
	}
}
