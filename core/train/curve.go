package train

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// CurveFile is the training-curve CSV in the run folder.
const CurveFile = "losses.csv"

// CurveRow is one step of the training curve (per-pixel losses).
type CurveRow struct {
	Phase                                   string
	Step                                    int
	Lambda                                  float64
	FlowLoss, Entropy, NLL, Prior, FlowGrad float64
	DMLoss, DMGrad                          float64
	ExtraPrior                              float64 // Σ_k w_k mean E_k / D of the extra priors (0: none)
}

var curveHeader = []string{"phase", "step", "lambda", "flow_loss", "entropy", "nll", "prior", "flow_grad_norm", "dm_loss", "dm_grad_norm", "extra_prior"}

func (r CurveRow) record() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	return []string{r.Phase, strconv.Itoa(r.Step), f(r.Lambda), f(r.FlowLoss), f(r.Entropy), f(r.NLL), f(r.Prior),
		f(r.FlowGrad), f(r.DMLoss), f(r.DMGrad), f(r.ExtraPrior)}
}

type curveWriter struct {
	f *os.File
	w *csv.Writer
}

// openCurve opens losses.csv for appending, first cutting rows past the checkpoint position
// st (a resumed run replays those steps, and must not list them twice).
func openCurve(path string, st State) (*curveWriter, error) {
	if err := truncateCurve(path, st); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open training curve: %w", err)
	}
	cw := &curveWriter{f: f, w: csv.NewWriter(f)}
	if errors.Is(statErr, os.ErrNotExist) {
		cw.w.Write(curveHeader)
	}
	return cw, nil
}

func truncateCurve(path string, st State) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	rd := csv.NewReader(bufio.NewReader(f))
	rd.FieldsPerRecord = -1 // a killed run may leave a half-written last row: dropped below
	rows, err := rd.ReadAll()
	if err != nil {
		return fmt.Errorf("training curve %s is damaged: %w", path, err)
	}
	// A curve written by an older build has fewer columns, a prefix of curveHeader: its
	// complete rows are kept with the new columns zero, under the current header.
	width := len(curveHeader)
	if len(rows) > 0 && len(rows[0]) < width && slices.Equal(rows[0], curveHeader[:len(rows[0])]) {
		width = len(rows[0])
	}
	keep := rows[:0]
	for i, r := range rows {
		if i == 0 {
			keep = append(keep, curveHeader)
			continue
		}
		if len(r) != width {
			continue // a torn row of a killed run
		}
		for len(r) < len(curveHeader) {
			r = append(r, "0")
		}
		step, _ := strconv.Atoi(r[1])
		ph := phaseIndex(r[0])
		if ph < st.Phase || (ph == st.Phase && step <= st.Step) {
			keep = append(keep, r)
		}
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.WriteAll(keep)
		return cw.Error()
	})
}

func phaseIndex(name string) int {
	for i, n := range phaseNames {
		if n == name {
			return i
		}
	}
	return len(phaseNames)
}

func (c *curveWriter) Write(r CurveRow) error { return c.w.Write(r.record()) }

func (c *curveWriter) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.f.Sync()
}

func (c *curveWriter) Close() error {
	c.Flush()
	return c.f.Close()
}
