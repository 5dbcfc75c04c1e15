package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/backend"
	"github.com/flowdiff/flowdiff-go/core/runlock"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/gomlx/gomlx/backends"
)

// Options are the run's settings that come from the command line, not the pipeline.
type Options struct {
	// Out is the run folder; "" means runs/<name>-<time> under the working folder.
	Out string
	// Resume continues the run in this folder: finished stages are restored from their outputs
	// instead of being run again. The pipeline is the resolved copy stored in the folder.
	Resume bool
	// Backend is the --backend flag ("" lets the pipeline or $GOMLX_BACKEND decide).
	Backend string
	// Log receives progress; the runner also copies every record to <run>/run.log as JSON.
	Log *slog.Logger
	// Now is the clock (tests set it); nil means time.Now.
	Now func() time.Time
}

// Run is one execution of a pipeline: its folder, its state, and what the stages hand on.
type Run struct {
	Dir string
	P   *Pipeline
	Log *slog.Logger

	opts    Options
	state   *state
	metrics *MetricsFile
	backend backends.Backend
	choice  backend.Choice
	closers []func() error
	forward *Forward                 // built on first use; see Run.Forward
	parts   map[*registry.Spec]built // train.priors and evaluate.metrics, built once; see Run.Part

	// Handed from stage to stage.
	Data *StageData
}

// stage is one step of the pipeline. restore reloads a finished stage's outputs on resume;
// when it is nil the stage is cheap and deterministic and simply runs again.
type stage struct {
	name    string
	enabled func(p *Pipeline) bool
	run     func(ctx context.Context, r *Run) error
	restore func(ctx context.Context, r *Run) error
}

// stages lists every stage in execution order.
var stages = []stage{
	{name: "data", enabled: func(p *Pipeline) bool { return p.Data != nil }, run: runData},
	{name: "corrupt", enabled: func(p *Pipeline) bool { return p.Data != nil && len(p.Corruption) > 0 },
		run: runCorrupt, restore: restoreCorrupt},
	{name: "train", enabled: func(p *Pipeline) bool { return p.Train != nil }, run: runTrain, restore: runTrain},
	{name: "sample", enabled: sampleEnabled, run: runSample, restore: restoreSample},
	{name: "evaluate", enabled: func(p *Pipeline) bool { return p.Evaluate != nil }, run: runEvaluate},
	{name: "report", enabled: func(p *Pipeline) bool { return p.Report != nil }, run: runReport},
}

// stageOrder names every stage of the design in execution order, for reports.
var stageOrder = []string{"data", "corrupt", "train", "sample", "evaluate", "report"}

// StageNames lists the stages this build runs, in order, for help texts.
func StageNames() []string { return implemented }

var implemented []string

func init() {
	for _, s := range stages {
		implemented = append(implemented, s.name)
	}
}

// Execute runs pipeline p (nil when resuming: it is read from the run folder). It returns the
// run folder even on failure, so the caller can point the user at it.
func Execute(ctx context.Context, p *Pipeline, opts Options) (dir string, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r, err := openRun(p, opts)
	if err != nil {
		return "", err
	}
	defer r.close()
	start := opts.Now()
	r.Log.Info("run started", "dir", r.Dir, "pipeline", r.P.Name, "resume", opts.Resume)
	// Start the backend first: a missing PJRT plugin should fail in seconds, not after the
	// data stage.
	if err := ctx.Err(); err != nil {
		return r.Dir, fmt.Errorf("interrupted: %w (continue with: flowdiff run --resume %s)", err, r.Dir)
	}
	if _, err := r.Backend(ctx); err != nil {
		return r.Dir, err
	}
	// Configure every part before the first stage, so that a part's own rules (a plugin's,
	// which run in its process) fail now, not after the data stage or hours of training. The
	// forward model is built here once for the whole run.
	if len(r.P.Corruption) > 0 && len(r.P.auto) == 0 { // auto parameters: built once estimated
		if _, err := r.Forward(ctx); err != nil {
			return r.Dir, err
		}
	}
	if err := r.buildLateParts(ctx); err != nil {
		return r.Dir, err
	}
	for _, s := range stages {
		if !s.enabled(r.P) {
			r.Log.Debug("stage skipped: not in pipeline", "stage", s.name)
			continue
		}
		if err := ctx.Err(); err != nil {
			return r.Dir, fmt.Errorf("interrupted before stage %s: %w (continue with: flowdiff run --resume %s)", s.name, err, r.Dir)
		}
		log := r.Log.With("stage", s.name)
		if r.state.done(s.name) && s.restore != nil {
			log.Info("stage already finished; restoring its outputs")
			if err := s.restore(ctx, r); err != nil {
				return r.Dir, fmt.Errorf("stage %s: restore finished outputs: %w", s.name, err)
			}
			continue
		}
		t0 := opts.Now()
		log.Info("stage started")
		if err := runStage(ctx, s, r); err != nil {
			// An interrupted stage (a call split by a time limit, Ctrl-C) keeps the time it
			// spent, so that a resumed stage's figure is its time over every call.
			secs := opts.Now().Sub(t0).Seconds()
			r.metrics.Timings[s.name] += secs
			if serr := errors.Join(r.state.spent(s.name, secs), r.writeMetrics()); serr != nil {
				log.Warn("the stopped stage's time was not recorded", "err", serr)
			}
			return r.Dir, fmt.Errorf("stage %s: %w", s.name, err)
		}
		secs := opts.Now().Sub(t0).Seconds()
		r.metrics.Timings[s.name] += secs
		if err := r.state.finish(s.name, secs); err != nil {
			return r.Dir, err
		}
		if err := r.writeMetrics(); err != nil {
			return r.Dir, err
		}
		log.Info("stage finished", "seconds", fmt.Sprintf("%.1f", secs))
	}
	r.metrics.TotalSeconds += opts.Now().Sub(start).Seconds()
	if err := r.writeMetrics(); err != nil {
		return r.Dir, err
	}
	r.Log.Info("run finished", "dir", r.Dir, "metrics", filepath.Join(r.Dir, MetricsFileName))
	return r.Dir, nil
}

// runStage runs s, turning a panic inside the engine into an error (STYLE: recover at the
// engine boundary) so that the finished stages' files stay valid and --resume works.
func runStage(ctx context.Context, s stage, r *Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (panic): %v", p)
		}
	}()
	return s.run(ctx, r)
}

// openRun creates or reopens the run folder and its log and state.
// The folder is locked (core/runlock) before anything in it is read or written: a second
// process fails here, at once, naming the owner.
func openRun(p *Pipeline, opts Options) (_ *Run, err error) {
	dir := opts.Out
	var lock *runlock.Lock
	defer func() {
		if err != nil && lock != nil {
			lock.Release()
		}
	}()
	if opts.Resume {
		if dir == "" {
			return nil, errors.New("resume needs the run folder")
		}
		if _, err := os.Stat(filepath.Join(dir, PipelineFileName)); err != nil {
			return nil, fmt.Errorf("resume %s: not a run folder: %w", dir, err)
		}
		if lock, err = runlock.Acquire(dir); err != nil {
			return nil, fmt.Errorf("resume %s: %w", dir, err)
		}
		rp, err := Load(filepath.Join(dir, PipelineFileName))
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", dir, err)
		}
		p = rp
	} else {
		if p == nil {
			return nil, errors.New("no pipeline given")
		}
		if dir == "" {
			dir = filepath.Join("runs", fmt.Sprintf("%s-%s", p.Name, opts.Now().Format("20060102-150405")))
		}
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("run folder %s already exists and is not empty: choose another --out, or continue it with --resume", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if lock == nil {
		if lock, err = runlock.Acquire(dir); err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dir, LogFileName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open run log: %w", err)
	}
	log := slog.New(teeHandler{opts.Log.Handler(), slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})})
	r := &Run{Dir: dir, P: p, Log: log, opts: opts, Data: &StageData{}}
	r.closers = append(r.closers, lock.Release, logFile.Close)
	if lock.Warning != "" {
		log.Warn(lock.Warning)
	}
	r.choice = backend.Resolve(opts.Backend, p.Backend)
	if !opts.Resume {
		resolved, err := p.Resolved()
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, PipelineFileName), resolved, 0o644); err != nil {
			return nil, err
		}
	}
	if r.state, err = loadState(filepath.Join(dir, StateFileName)); err != nil {
		return nil, err
	}
	if r.metrics, err = loadMetrics(filepath.Join(dir, MetricsFileName), p, r.choice.Config); err != nil {
		return nil, err
	}
	return r, nil
}

// Backend returns the run's GoMLX backend, starting it on first use.
func (r *Run) Backend(ctx context.Context) (backends.Backend, error) {
	if r.backend != nil {
		return r.backend, nil
	}
	b, err := backend.New(ctx, r.choice)
	if err != nil {
		return nil, err
	}
	r.Log.Info("backend started", "backend", b.Name(), "config", r.choice.Config, "from", r.choice.Source)
	r.backend = b
	r.closers = append(r.closers, func() error { b.Finalize(); return nil })
	return b, nil
}

func (r *Run) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// Path returns a path inside the run folder.
func (r *Run) Path(elem ...string) string { return filepath.Join(append([]string{r.Dir}, elem...)...) }

// Seed derives a stable seed for a named random stream, so stages do not share streams and
// adding a stage does not shift another's randomness.
func (r *Run) Seed(stream string) int64 {
	h := uint64(14695981039346656037) // FNV-1a
	for _, c := range []byte(stream) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return int64(h^uint64(r.P.Seed)*0x9E3779B97F4A7C15) & (1<<62 - 1)
}
