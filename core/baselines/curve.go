package baselines

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// The training curve of a baseline is losses.csv in its training folder (the name core/train
// uses): a header "step,<terms...>,grad_norm,lr" and one row per step, terms per pixel.

type curve struct {
	path   string
	header []string
	f      *os.File
	w      *csv.Writer
}

// openCurve opens dir/losses.csv for appending after cutting the rows past step (a resumed or
// rolled-back run replays those steps and must not list them twice).
func openCurve(dir string, terms []string, step int) (*curve, error) {
	c := &curve{path: filepath.Join(dir, train.CurveFile), header: append(append([]string{"step"}, terms...), "grad_norm", "lr")}
	if err := c.truncate(step); err != nil {
		return nil, err
	}
	return c, c.open()
}

func (c *curve) open() error {
	_, statErr := os.Stat(c.path)
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open training curve: %w", err)
	}
	c.f, c.w = f, csv.NewWriter(f)
	if errors.Is(statErr, os.ErrNotExist) {
		c.w.Write(c.header)
	}
	return nil
}

// truncate keeps the header and the complete rows of steps <= step.
func (c *curve) truncate(step int) error {
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	rd := csv.NewReader(bufio.NewReader(f))
	rd.FieldsPerRecord = -1 // a killed run may leave a torn last row: dropped below
	rows, err := rd.ReadAll()
	f.Close()
	if err != nil {
		return fmt.Errorf("training curve %s is damaged: %w", c.path, err)
	}
	if len(rows) > 0 && !slices.Equal(rows[0], c.header) {
		return fmt.Errorf("training curve %s has columns %v, this objective writes %v: start a new run folder", c.path, rows[0], c.header)
	}
	keep := [][]string{c.header}
	for _, r := range rows[min(1, len(rows)):] {
		if s, err := strconv.Atoi(r[0]); err == nil && len(r) == len(c.header) && s <= step {
			keep = append(keep, r)
		}
	}
	return atomicfile.Write(c.path, 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.WriteAll(keep)
		return cw.Error()
	})
}

// Write appends the row of step (1-based: steps finished) with the terms and the gradient
// norm vals and the learning rate lr.
func (c *curve) Write(step int, vals []float64, lr float64) error {
	rec := []string{strconv.Itoa(step)}
	for _, v := range append(slices.Clone(vals), lr) {
		rec = append(rec, strconv.FormatFloat(v, 'g', 6, 64))
	}
	return c.w.Write(rec)
}

// Rewind drops the rows past step (after a rollback).
func (c *curve) Rewind(step int) error {
	if err := c.Close(); err != nil {
		return err
	}
	if err := c.truncate(step); err != nil {
		return err
	}
	return c.open()
}

func (c *curve) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.f.Sync()
}

func (c *curve) Close() error {
	c.Flush()
	return c.f.Close()
}

// PlotCurve draws dir/losses.csv of a baseline into dir/losses.png: every term column against
// the step (linear axis: a SURE estimate may be negative).
func PlotCurve(dir string) error {
	f, err := os.Open(filepath.Join(dir, train.CurveFile))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return fmt.Errorf("training curve: %v (%d rows)", err, len(rows))
	}
	head := rows[0]
	var series []report.Series
	for j := 1; j < len(head); j++ {
		if head[j] == "grad_norm" || head[j] == "lr" || head[j] == "dsm_weight" {
			continue
		}
		s := report.Series{Name: head[j]}
		for _, r := range rows[1:] {
			x, err1 := strconv.ParseFloat(r[0], 64)
			y, err2 := strconv.ParseFloat(r[j], 64)
			if err1 == nil && err2 == nil {
				s.X, s.Y = append(s.X, x), append(s.Y, y)
			}
		}
		series = append(series, s)
	}
	return report.WritePlotPNG(filepath.Join(dir, "losses.png"), "training losses per pixel vs step", series, false)
}
