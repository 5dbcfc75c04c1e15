package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Table is a metric table: rows are estimates ("input", "posterior_mean"), columns metrics
// ("psnr", "ssim"); values are means with standard errors.
type Table struct {
	Rows, Cols []string
	Mean, Err  map[[2]string]float64 // key {row, col}
}

// TableFromFlat builds a table from flat names "<metric>.<estimate>" such as "psnr.input".
// The estimate is what follows the last dot, so a namespaced plugin metric such as
// "pyexample.mae.input" is the column "pyexample.mae". Rows keep the order of preferredRows
// first, then the rest sorted.
func TableFromFlat(mean, stderr map[string]float64, preferredRows []string) Table {
	t := Table{Mean: map[[2]string]float64{}, Err: map[[2]string]float64{}}
	rows, cols := map[string]bool{}, map[string]bool{}
	for name, v := range mean {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			continue
		}
		metric, est := name[:i], name[i+1:]
		rows[est], cols[metric] = true, true
		t.Mean[[2]string{est, metric}] = v
		t.Err[[2]string{est, metric}] = stderr[name]
	}
	for _, r := range preferredRows {
		if rows[r] {
			t.Rows = append(t.Rows, r)
			delete(rows, r)
		}
	}
	t.Rows = append(t.Rows, sortedKeys(rows)...)
	t.Cols = sortedKeys(cols)
	return t
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Markdown renders the table, "mean ± stderr" per cell, "–" where a value is missing.
func (t Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| estimate |")
	for _, c := range t.Cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(t.Cols)))
	b.WriteString("\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s |", r)
		for _, c := range t.Cols {
			v, ok := t.Mean[[2]string{r, c}]
			if !ok || math.IsNaN(v) {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %.4g ± %.2g |", v, t.Err[[2]string{r, c}])
		}
		b.WriteString("\n")
	}
	return b.String()
}
