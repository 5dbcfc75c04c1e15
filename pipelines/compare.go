package pipelines

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// Golden is a regression file (testdata/golden/NAME.json): expected figures of a run's
// metrics.json, each with an absolute tolerance and the direction of improvement, so that only
// regressions fail:
//
//	{"pipeline": "testdata/quick.yaml",
//	 "metrics": {"psnr.posterior_mean": {"value": 14.9, "tolerance": 0.5, "higher_is_better": true}}}
type Golden struct {
	Pipeline string                  `json:"pipeline,omitempty"`
	Note     string                  `json:"note,omitempty"`
	Metrics  map[string]GoldenMetric `json:"metrics"`
}

// GoldenMetric is one expected figure. A run fails the check when the figure is missing, or
// worse than Value by more than Tolerance in the direction HigherIsBetter names; better values
// pass, however large the change.
type GoldenMetric struct {
	Value          float64 `json:"value"`
	Tolerance      float64 `json:"tolerance"`
	HigherIsBetter *bool   `json:"higher_is_better"`
}

// CompareRow is one metric's outcome.
type CompareRow struct {
	Metric    string
	Golden    GoldenMetric
	Actual    float64
	Present   bool
	Regressed bool
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Rows   []CompareRow
	Failed int
}

// ReadGolden reads and checks a golden file.
func ReadGolden(path string) (*Golden, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden file: %w", err)
	}
	var g Golden
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("golden file %s: %w", path, err)
	}
	if len(g.Metrics) == 0 {
		return nil, fmt.Errorf("golden file %s lists no metrics", path)
	}
	for name, m := range g.Metrics {
		if m.HigherIsBetter == nil {
			return nil, fmt.Errorf("golden file %s: %s needs higher_is_better (true or false)", path, name)
		}
		if !(m.Tolerance >= 0) {
			return nil, fmt.Errorf("golden file %s: %s has tolerance %v; want >= 0", path, name, m.Tolerance)
		}
	}
	return &g, nil
}

// Compare checks the metrics.json of the run folder runDir against the golden file.
func Compare(runDir, goldenPath string) (*Comparison, error) {
	g, err := ReadGolden(goldenPath)
	if err != nil {
		return nil, err
	}
	data, err := readMetricsFile(filepath.Join(runDir, MetricsFileName))
	if err != nil {
		return nil, fmt.Errorf("run metrics: %w", err)
	}
	var m MetricsFile
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("run metrics %s: %w", filepath.Join(runDir, MetricsFileName), err)
	}
	c := &Comparison{}
	for _, name := range sortedNames(g.Metrics) {
		gm := g.Metrics[name]
		v, ok := m.Metrics[name]
		row := CompareRow{Metric: name, Golden: gm, Actual: v, Present: ok && !math.IsNaN(v)}
		switch {
		case !row.Present:
			row.Regressed = true
		case *gm.HigherIsBetter:
			row.Regressed = v < gm.Value-gm.Tolerance
		default:
			row.Regressed = v > gm.Value+gm.Tolerance
		}
		if row.Regressed {
			c.Failed++
		}
		c.Rows = append(c.Rows, row)
	}
	return c, nil
}

// Write prints the comparison as a table: metric, golden value, tolerance, direction, actual
// value, difference and status (ok, better, REGRESSED, MISSING).
func (c *Comparison) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tGOLDEN\tTOLERANCE\tBETTER\tACTUAL\tDIFF\tSTATUS")
	for _, r := range c.Rows {
		dir := map[bool]string{true: "higher", false: "lower"}[*r.Golden.HigherIsBetter]
		if !r.Present {
			fmt.Fprintf(tw, "%s\t%.4g\t%.3g\t%s\t–\t–\tMISSING\n", r.Metric, r.Golden.Value, r.Golden.Tolerance, dir)
			continue
		}
		diff := r.Actual - r.Golden.Value
		status := "ok"
		switch {
		case r.Regressed:
			status = "REGRESSED"
		case (diff > r.Golden.Tolerance && *r.Golden.HigherIsBetter) || (diff < -r.Golden.Tolerance && !*r.Golden.HigherIsBetter):
			status = "better (consider updating the golden file)"
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%.3g\t%s\t%.4g\t%+.3g\t%s\n", r.Metric, r.Golden.Value, r.Golden.Tolerance, dir, r.Actual, diff, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.Failed > 0 {
		_, err := fmt.Fprintf(w, "%d of %d metrics regressed past their tolerance\n", c.Failed, len(c.Rows))
		return err
	}
	_, err := fmt.Fprintf(w, "all %d metrics within tolerance\n", len(c.Rows))
	return err
}
