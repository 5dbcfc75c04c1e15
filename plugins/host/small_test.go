package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// TestSmallAdjointErrorCaughtOutOfProcess: the conformance suite holds a plugin's operator to
// the same adjoint test as a built-in's: faulty.op (y = 2x) with its VJP scaled by 1.001 or
// 0.999, served out of process, fails it; exact, it passes.
func TestSmallAdjointErrorCaughtOutOfProcess(t *testing.T) {
	reg, _ := load(t, host.Options{CallTimeout: time.Minute}, plugintest.Folder(t, "faulty"))
	for _, scale := range []float64{1, 1.001, 0.999} {
		v, err := buildFrom(t, reg, fmt.Sprintf("op: faulty.op\nvjp_scale: %g\n", scale))
		if err != nil {
			t.Fatal(err)
		}
		r := conformance.CheckOperator(context.Background(), v.(part.Operator), conformance.Options{NoGraph: true})
		c, ok := r.Find("adjoint")
		t.Logf("VJP x%g: %s", scale, c)
		if !ok || c.Failed() != (scale != 1) {
			t.Errorf("VJP x%g through the plugin: want the adjoint check to %s:\n%s", scale,
				map[bool]string{true: "fail", false: "pass"}[scale != 1], r)
		}
	}
}
