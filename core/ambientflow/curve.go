package ambientflow

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// curve is losses.csv: a header (step, Terms..., lr_factor) and one row per step, rewritten
// whole at every checkpoint so that it never holds steps past the last checkpoint.
type curve struct {
	path string
	rows [][]string
}

// openCurve reads dir's losses.csv, keeping the rows of steps <= step (those of the
// checkpoint a run resumes from).
func openCurve(dir string, step int) (*curve, error) {
	c := &curve{path: filepath.Join(dir, train.CurveFile)}
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	for _, r := range rows[min(1, len(rows)):] {
		if s, err := strconv.Atoi(r[0]); err == nil && s <= step {
			c.rows = append(c.rows, r)
		}
	}
	return c, nil
}

func (c *curve) add(step int, vals []float64, lrFactor float64) {
	row := []string{strconv.Itoa(step)}
	for _, v := range vals {
		row = append(row, strconv.FormatFloat(v, 'g', 7, 64))
	}
	c.rows = append(c.rows, append(row, strconv.FormatFloat(lrFactor, 'g', 6, 64)))
}

func (c *curve) save() error {
	return atomicfile.Write(c.path, 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(append(append([]string{"step"}, Terms...), "lr_factor"))
		cw.WriteAll(c.rows)
		return cw.Error()
	})
}

// PlotCurve draws dir/losses.csv into dir/losses.png: the loss and its three parts against the
// step (the gradient norms and the learning-rate factor are in the CSV only).
func PlotCurve(dir string) error {
	c, err := openCurve(dir, math.MaxInt)
	if err != nil {
		return err
	}
	if len(c.rows) == 0 {
		return fmt.Errorf("training curve: %s has no rows", c.path)
	}
	series := make([]report.Series, 4) // loss, neg_logdet, data_nll, prior_nll
	for j := range series {
		series[j].Name = Terms[j]
		for _, r := range c.rows {
			x, err1 := strconv.ParseFloat(r[0], 64)
			y, err2 := strconv.ParseFloat(r[j+1], 64)
			if err1 == nil && err2 == nil {
				series[j].X, series[j].Y = append(series[j].X, x), append(series[j].Y, y)
			}
		}
	}
	return report.WritePlotPNG(filepath.Join(dir, "losses.png"), "AmbientFlow losses per pixel (nats) vs step", series, false)
}
