// Package sdktest is the conformance helper for plugin authors, in the style of gonum's
// testlapack: one call runs the registry's conformance suite (registry/conformance) on a part
// twice, in-process on the value the entry builds and out of process through a real plugin
// process speaking the protocol, so a part that passes here passes `flowdiff plugins check`.
//
//	func TestWidefield(t *testing.T) { sdktest.OperatorTest(t, widefieldEntry) }
//
// The plugin process is the test binary itself, re-executed with only the calling test
// selected and $FLOWDIFF_SDKTEST_SERVE set: the helper then serves the entry with sdk.Serve
// instead of testing (go-plugin's own test pattern). Call the helpers from top-level tests or
// subtests, not from TestMain, and not from parallel tests (they set an environment
// variable). The part is built with the entry's Example parameters, or its defaults.
package sdktest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/plugins/sdk"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// EnvServe, set in the re-executed test binary, makes the helpers serve instead of test.
const EnvServe = "FLOWDIFF_SDKTEST_SERVE"

// OperatorTest checks an operator part (registry.KindOperator).
func OperatorTest(t *testing.T, e registry.Entry) { partTest(t, e, registry.KindOperator) }

// NoiseTest checks a noise-model part (registry.KindNoise).
func NoiseTest(t *testing.T, e registry.Entry) { partTest(t, e, registry.KindNoise) }

// PriorTest checks a prior part (registry.KindPrior).
func PriorTest(t *testing.T, e registry.Entry) { partTest(t, e, registry.KindPrior) }

// MetricTest checks a metric part (registry.KindMetric).
func MetricTest(t *testing.T, e registry.Entry) { partTest(t, e, registry.KindMetric) }

func partTest(t *testing.T, e registry.Entry, kind registry.Kind) {
	t.Helper()
	if os.Getenv(EnvServe) == e.ID {
		sdk.Serve(sdk.Plugin{Name: "sdktest", Version: "test", Parts: []registry.Entry{e}})
		os.Exit(0)
	}
	if e.Kind != kind {
		t.Fatalf("%s is registered as a %s, not a %s", e.ID, e.Kind, kind)
	}
	ctx := context.Background()
	t.Run("in-process", func(t *testing.T) {
		cfg, err := e.ExampleConfig()
		if err != nil {
			t.Fatal(err)
		}
		conformance.Require(t, conformance.CheckEntry(ctx, e, cfg, conformance.Options{}))
	})
	t.Run("plugin-process", func(t *testing.T) {
		dir := pluginFolder(t, e.ID)
		reg := registry.New()
		h := host.New(reg, host.Options{})
		defer h.Close()
		if err := h.LoadDir(dir); err != nil {
			t.Fatal(err)
		}
		r, err := conformance.CheckID(ctx, e.ID, reg)
		if err != nil {
			t.Fatal(err)
		}
		conformance.Require(t, r)
	})
}

// pluginFolder makes a plugin folder whose command is a link to the test binary, running
// only the calling test, with EnvServe naming the part; and seals it.
func pluginFolder(t *testing.T, id string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, "plugin")); err != nil {
		t.Fatal(err)
	}
	// The calling test is this test's parent ("TestX/plugin-process" -> "TestX").
	parent := strings.TrimSuffix(t.Name(), "/plugin-process")
	var pattern []string
	for _, part := range strings.Split(parent, "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	m := &host.Manifest{Name: "sdktest", Version: "test", Command: "plugin",
		Args: []string{"-test.run=" + strings.Join(pattern, "/")}}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvServe, id)
	if _, err := host.Seal(context.Background(), dir, host.Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}
