package host_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry"
)

// faultBound is how long any fault may take to surface: the hang case uses a 1 s per-call
// timeout, the rest fail at once; the bound leaves room for a loaded 2-core machine.
const faultBound = 20 * time.Second

// TestFaults drives the faulty example into each failure and checks that the error names the
// plugin, says what happened, quotes the plugin's last stderr lines where it wrote some, comes
// within faultBound, and leaves no goroutines behind.
func TestFaults(t *testing.T) {
	x := batch.New(2, 4, 5, 1)
	cases := []struct {
		name, mode string
		args       []string
		want       []string // substrings of the error
		reusable   bool     // the process still serves afterwards
	}{
		{name: "crash", mode: "crash", want: []string{"plugin faulty", "exited", "simulated segmentation fault"}},
		{name: "hang", mode: "hang", want: []string{"plugin faulty", "no answer within 1s", "mode hang"}},
		{name: "shape", mode: "shape", want: []string{"plugin faulty", "invalid answer: shape [2,4,6,1], want [2,4,5,1]", "(working folder DIR)"}, reusable: true},
		{name: "nan", mode: "nan", want: []string{"plugin faulty", "invalid answer", "NaN"}, reusable: true},
		{name: "panic", mode: "panic", want: []string{"plugin faulty", "panicked", "nil map"}, reusable: true},
		{name: "protocol", mode: "ok", args: []string{"-protocol", "2"}, want: []string{"plugin faulty", "start", "Plugin version: 2"}},
		{name: "exit at start", mode: "ok", args: []string{"-exit-at-start"}, want: []string{"plugin faulty", "start", "cannot open my model file"}},
	}
	before := runtime.NumGoroutine()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := plugintest.Folder(t, "faulty", c.args...)
			reg, _ := load(t, host.Options{CallTimeout: time.Second}, dir)
			start := time.Now()
			var err error
			v, err := buildFrom(t, reg, "op: faulty.op\nmode: "+c.mode+"\n")
			if err == nil {
				_, err = v.(part.Operator).Apply(ctx, x, nil)
			}
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			var pe *host.Error
			if !errors.As(err, &pe) || pe.Plugin != "faulty" {
				t.Errorf("error is %T, want a *host.Error naming the plugin", err)
			}
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "DIR", dir) // the plugin runs in its own folder
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if took > faultBound {
				t.Errorf("took %s", took)
			}
			t.Logf("after %s:\n%v", took.Round(time.Millisecond), err)
			if !c.reusable || v == nil {
				return
			}
			// The process serves on: a well-behaved part configured in it works.
			ok, err := buildFrom(t, reg, "op: faulty.op\nmode: ok\n")
			if err != nil {
				t.Fatalf("process unusable after %s: %v", c.name, err)
			}
			if _, err := ok.(part.Operator).Apply(ctx, x, nil); err != nil {
				t.Errorf("process unusable after %s: %v", c.name, err)
			}
		})
	}
	// Every process is stopped (the subtests' cleanups); go-plugin's goroutines wind down.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestCrashedPluginStaysFailed checks that calls after a crash fail at once with the crash.
func TestCrashedPluginStaysFailed(t *testing.T) {
	dir := plugintest.Folder(t, "faulty")
	reg, _ := load(t, host.Options{CallTimeout: time.Second}, dir)
	v, err := buildFrom(t, reg, "op: faulty.op\nmode: crash\n")
	if err != nil {
		t.Fatal(err)
	}
	op := v.(part.Operator)
	x := batch.New(1, 2, 2, 1)
	_, err1 := op.Apply(ctx, x, nil)
	_, err2 := op.VJP(ctx, x, x, nil)
	if err1 == nil || err2 == nil || !strings.Contains(err2.Error(), "exited") {
		t.Errorf("first %v, second %v", err1, err2)
	}
}

func TestChecksumMismatch(t *testing.T) {
	dir := plugintest.Folder(t, "micro")
	bin := filepath.Join(dir, "micro")
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("tampered"))
	f.Close()
	reg, _ := load(t, host.Options{}, dir)
	_, err = buildFrom(t, reg, "op: micro.widefield\n")
	var ce *host.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a ChecksumError", err, err)
	}
	m, _ := host.ReadManifest(dir)
	actual, _ := host.FileSHA256(bin)
	for _, w := range []string{"plugin micro", m.SHA256, actual, "flowdiff plugins seal"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestBadManifests(t *testing.T) {
	cases := []struct{ name, manifest, want string }{
		{"unknown key", "name: x\ncommand: x\ncolour: red\n", "field colour not found"},
		{"no command", "name: x\n", "command is empty"},
		{"escaping command", "name: x\ncommand: ../x\n", "inside the plugin folder"},
		{"bad kind", "name: x\ncommand: x\nprotocol: 1\nprovides:\n  - id: x.y\n    kind: widget\n", `kind "widget"`},
		{"other protocol", "name: x\ncommand: x\nprotocol: 2\n", "speaks plugin protocol 1"},
		{"unsealed", "name: x\ncommand: x\n", "not sealed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "x")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, host.ManifestFile), []byte(c.manifest), 0o644)
			h := host.New(registry.New(), host.Options{})
			err := h.LoadDir(root)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if len(h.Broken()) != 1 {
				t.Errorf("broken = %v", h.Broken())
			}
		})
	}
}

func TestMissingBinary(t *testing.T) {
	dir := plugintest.Folder(t, "micro")
	os.Remove(filepath.Join(dir, "micro"))
	reg, _ := load(t, host.Options{}, dir)
	_, err := buildFrom(t, reg, "op: micro.widefield\n")
	if err == nil || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), "plugin micro") {
		t.Errorf("err = %v", err)
	}
}
