package ambientflow

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
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
