package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/residual"
)

// Files every run folder holds.
const (
	PipelineFileName = "pipeline.yaml" // the resolved pipeline, every default filled in
	StateFileName    = "state.json"    // which stages finished, for --resume
	MetricsFileName  = "metrics.json"  // the figures, for machines
	LogFileName      = "run.log"       // every log record, JSON lines
)

// state records finished stages; it is rewritten atomically after each one.
type state struct {
	path    string
	Version int                   `json:"version"`
	Stages  map[string]stageState `json:"stages"`
}

// stageState is one stage's record. Seconds is the stage's wall time summed over the calls
// that ran it: a stage stopped before its end (done false) keeps the time spent so far, and the
// call that finishes it adds its own.
type stageState struct {
	Done     bool      `json:"done"`
	Seconds  float64   `json:"seconds"`
	Finished time.Time `json:"finished,omitzero"`
}

func loadState(path string) (*state, error) {
	s := &state{path: path, Version: 1, Stages: map[string]stageState{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read run state: %w", err)
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("run state %s is damaged (%v): start a new run", path, err)
	}
	return s, nil
}

func (s *state) done(name string) bool { return s.Stages[name].Done }

func (s *state) finish(name string, secs float64) error {
	if prev := s.Stages[name]; !prev.Done {
		secs += prev.Seconds
	}
	s.Stages[name] = stageState{Done: true, Seconds: secs, Finished: time.Now().UTC()}
	return atomicfile.WriteJSON(s.path, s)
}

// spent records the seconds a stage ran in a call that stopped before the stage's end.
func (s *state) spent(name string, secs float64) error {
	st := s.Stages[name]
	st.Seconds += secs
	s.Stages[name] = st
	return atomicfile.WriteJSON(s.path, s)
}

// MetricsFile is metrics.json: plainly named figures ("psnr.input", "ssim.posterior_mean"),
// each a mean over the test images, with its standard error and count, plus timings.
type MetricsFile struct {
	path         string
	Pipeline     string             `json:"pipeline"`
	Backend      string             `json:"backend"`
	Metrics      map[string]float64 `json:"metrics"`
	StdErr       map[string]float64 `json:"stderr"`
	Count        map[string]int     `json:"count"`
	Timings      map[string]float64 `json:"timings_s"`
	TotalSeconds float64            `json:"total_s"`
	// PeakRSSMB is the largest resident set size (MiB) of the processes that ran the stages so
	// far (a resumed run keeps the larger of its processes'); 0 where the OS does not report it.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	// Notes explain values that JSON cannot hold (an infinite PSNR of identical images).
	Notes map[string]string `json:"notes,omitempty"`
	// HigherIsBetter gives each metric's direction, by the metric part of the figures' names
	// ("psnr", "pyexample.mae"), as the metric states it (plugins included).
	HigherIsBetter map[string]bool `json:"higher_is_better,omitempty"`
	// Residual holds, per estimate, the mean over the test images of the whitened residual's
	// statistics (core/residual): the no-reference verdict on a restoration.
	Residual map[string]residual.Stats `json:"residual,omitempty"`
}

func loadMetrics(path string, p *Pipeline, backendConfig string) (*MetricsFile, error) {
	m := &MetricsFile{path: path, Pipeline: p.Name, Backend: backendConfig,
		Metrics: map[string]float64{}, StdErr: map[string]float64{}, Count: map[string]int{},
		Timings: map[string]float64{}, Notes: map[string]string{}, HigherIsBetter: map[string]bool{},
		Residual: map[string]residual.Stats{}}
	data, err := readMetricsFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("metrics file %s is damaged: %w", path, err)
	}
	m.path = path
	return m, nil
}

// Set records a figure. Non-finite values are kept out of the JSON numbers and explained in
// Notes.
func (m *MetricsFile) Set(name string, mean, stderr float64, n int) {
	if math.IsNaN(mean) || math.IsInf(mean, 0) {
		m.Notes[name] = fmt.Sprintf("value is %v (for PSNR: identical images)", mean)
		delete(m.Metrics, name)
		return
	}
	m.Metrics[name], m.StdErr[name], m.Count[name] = mean, stderr, n
}

// Metrics returns the figures recorded so far.
func (r *Run) Metrics() *MetricsFile { return r.metrics }

// writeMetrics writes metrics.json with its checksum file (metrics.json.sha256): a write that
// fails (a full disk) leaves the previous one.
func (r *Run) writeMetrics() error {
	r.metrics.PeakRSSMB = max(r.metrics.PeakRSSMB, peakRSSMB())
	data, err := json.MarshalIndent(r.metrics, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", r.metrics.path, err)
	}
	return atomicfile.WriteFileSummed(r.metrics.path, append(data, '\n'), 0o644)
}

// readMetricsFile reads a metrics.json verified against its checksum file (files of older
// builds have none and are read as they are). A changed file is an error saying so.
func readMetricsFile(path string) ([]byte, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	data, err := atomicfile.ReadVerified(path, true)
	if err != nil {
		return nil, fmt.Errorf("%w: its figures cannot be trusted (if you edited it on purpose, delete %s%s)", err, path, atomicfile.SumSuffix)
	}
	return data, nil
}

// teeHandler sends each record to two handlers (the user's console and the run log).
type teeHandler [2]slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, rec slog.Record) error {
	var err error
	for _, h := range t {
		if h.Enabled(ctx, rec.Level) {
			err = errors.Join(err, h.Handle(ctx, rec.Clone()))
		}
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t[0].WithGroup(name), t[1].WithGroup(name)}
}
