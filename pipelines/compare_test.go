package pipelines

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// TestCompareOnlyRegressionsFail: a better value passes whatever its size, a worse one within
// tolerance passes, a worse one past tolerance fails in either direction, and a missing figure
// fails; the table names each status.
func TestCompareOnlyRegressionsFail(t *testing.T) {
	dir := t.TempDir()
	m := MetricsFile{Metrics: map[string]float64{"psnr.a": 20, "psnr.b": 15.2, "psnr.c": 14, "lpips.a": 0.5, "lpips.b": 0.1}}
	if err := atomicfile.WriteJSON(filepath.Join(dir, MetricsFileName), m); err != nil {
		t.Fatal(err)
	}
	golden := `{"metrics": {
  "psnr.a": {"value": 15, "tolerance": 0.5, "higher_is_better": true},
  "psnr.b": {"value": 15.5, "tolerance": 0.5, "higher_is_better": true},
  "psnr.c": {"value": 15, "tolerance": 0.5, "higher_is_better": true},
  "lpips.a": {"value": 0.3, "tolerance": 0.1, "higher_is_better": false},
  "lpips.b": {"value": 0.3, "tolerance": 0.1, "higher_is_better": false},
  "fid.x": {"value": 1, "tolerance": 1, "higher_is_better": false}}}`
	gp := filepath.Join(dir, "golden.json")
	if err := os.WriteFile(gp, []byte(golden), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Compare(dir, gp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"psnr.a": false, "psnr.b": false, "psnr.c": true, "lpips.a": true, "lpips.b": false, "fid.x": true}
	for _, r := range c.Rows {
		if r.Regressed != want[r.Metric] {
			t.Errorf("%s: regressed %v, want %v", r.Metric, r.Regressed, want[r.Metric])
		}
	}
	if c.Failed != 3 {
		t.Errorf("failed %d, want 3", c.Failed)
	}
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"REGRESSED", "MISSING", "better", "3 of 6 metrics regressed"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"metrics": {"psnr.a": {"value": 1, "tolerance": 1}}}`), 0o644)
	if _, err := Compare(dir, bad); err == nil || !strings.Contains(err.Error(), "higher_is_better") {
		t.Errorf("golden without a direction: err %v", err)
	}
}
