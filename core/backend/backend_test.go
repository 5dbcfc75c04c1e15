package backend

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestResolvePrecedence(t *testing.T) {
	cases := []struct {
		flag, pipeline, env string
		want                Choice
	}{
		{"xla:cpu", "go", "xla:cuda", Choice{"xla:cpu", "flag"}},
		{"", "xla:cuda", "xla:cpu", Choice{"xla:cuda", "pipeline"}},
		{"", "", "xla:cpu", Choice{"xla:cpu", "env"}},
		{"", "", "", Choice{"go", "default"}},
	}
	for _, c := range cases {
		t.Setenv(EnvVar, c.env)
		if got := Resolve(c.flag, c.pipeline); got != c.want {
			t.Errorf("Resolve(%q,%q) with env %q = %+v, want %+v", c.flag, c.pipeline, c.env, got, c.want)
		}
	}
}

// TestNewGo starts the default pure-Go backend without writing to standard output (SimpleGo
// prints its parallelism setting there, which would mix into a command's output).
func TestNewGo(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	b, err := New(context.Background(), Choice{"go", "default"})
	os.Stdout = saved
	w.Close()
	printed, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b.Name() != "go" && !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Errorf("backend name = %q", b.Name())
	}
	if len(printed) > 0 {
		t.Errorf("starting the backend wrote to standard output: %q", printed)
	}
}

// TestXLAWithoutPluginFailsFast checks the promise that asking for XLA on a machine without a
// PJRT plugin fails quickly with an install hint rather than downloading or hanging.
func TestXLAWithoutPluginFailsFast(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	for _, cfg := range []string{"xla:cuda", "xla:/nonexistent/pjrt_c_api_cuda_plugin.so"} {
		start := time.Now()
		b, err := New(context.Background(), Choice{cfg, "flag"})
		if err == nil {
			b.Finalize()
			t.Skipf("%s is installed on this machine; nothing to check", cfg)
		}
		if !errors.Is(err, ErrNoPlugin) {
			t.Errorf("%s: error %v does not wrap ErrNoPlugin", cfg, err)
		}
		if cfg == "xla:cuda" && !strings.Contains(err.Error(), "PJRT_PLUGIN_LIBRARY_PATH") {
			t.Errorf("%s: error lacks an install hint: %v", cfg, err)
		}
		// A generous bound for a slow CI machine; the point is "no download, no hang".
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: failing took %s", cfg, d)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, ok := range []string{"go", "xla:cpu", "xla:cuda", "xla"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
	if err := Validate("tpu"); err == nil || !strings.Contains(err.Error(), "use one of") {
		t.Errorf("Validate(tpu) = %v", err)
	}
}
