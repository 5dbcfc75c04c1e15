package pipelines

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// What the baselines' train stages share.

// trainBaseline trains the U-Net of obj with the pipeline's train settings into dir (resuming
// from its checkpoints) and plots its curve.
func trainBaseline(ctx context.Context, r *Run, obj baselines.Objective, dir string) error {
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	tr, err := baselines.NewTrainer(be, r.P.Train.Config, obj, r.Seed("train"), r.Log)
	if err != nil {
		return err
	}
	if err := tr.Run(ctx, dir); err != nil {
		return err
	}
	if err := baselines.PlotCurve(dir); err != nil {
		r.Log.Warn("training curve not plotted", "err", err)
	}
	return nil
}

// schedule is the pipeline's DDPM schedule.
func schedule(cfg train.Config) (*diffusion.Schedule, error) {
	s, err := diffusion.NewLinear(cfg.Diffusion.Steps, cfg.Diffusion.BetaStart, cfg.Diffusion.BetaEnd)
	if err != nil {
		return nil, fmt.Errorf("train.diffusion: %w", err)
	}
	return s, nil
}

// imageShaped returns an error unless the observations have the clean images' shape (methods
// that take observations for images need it).
func imageShaped(r *Run, obs *batch.Batch, method string) error {
	c := r.Data.Clean // the images' shape, also for source: observations
	if c.H == 0 && r.Data.Train != nil {
		c = r.Data.Train.Images.Shape
	}
	if c.H == 0 {
		return nil // the U-Net's sizes decide
	}
	if obs.H != c.H || obs.W != c.W || obs.C != c.C {
		return fmt.Errorf("method %s needs observations shaped like the images (%dx%dx%d), the corruption gives %dx%dx%d: use method flowdiff",
			method, c.H, c.W, c.C, obs.H, obs.W, obs.C)
	}
	return nil
}

// writeAmortized writes an amortized restoration of the test observations as
// train/posterior_mean.npy and hands it to evaluate as the estimate posterior_mean.
func writeAmortized(r *Run, x *batch.Batch) error {
	if err := writeBatchSummed(r.Path(trainDir, "posterior_mean.npy"), x.Dims(), x.Data); err != nil {
		return err
	}
	r.Data.addEstimate("posterior_mean", x)
	r.Log.Info("amortized restorations computed", "images", x.N)
	return nil
}

// MachineFile is the train stage's record of the machine that trained (train/machine.json),
// which the comparison table reports next to the training time.
const MachineFile = "machine.json"

// Machine describes where a run trained.
type Machine struct {
	CPU     string `json:"cpu"`            // the CPU model, as the OS names it
	CPUs    int    `json:"cpus"`           // logical CPUs Go may use
	OS      string `json:"os"`             // GOOS/GOARCH
	Go      string `json:"go"`             // Go version
	Backend string `json:"backend"`        // the GoMLX backend that trained
	Config  string `json:"backend_config"` // as chosen (flag, pipeline, environment or default)
}

// recordMachine writes train/machine.json for the train stage about to run.
func recordMachine(ctx context.Context, r *Run) error {
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	m := Machine{CPU: cpuModel(), CPUs: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Backend: be.Name(), Config: r.choice.Config}
	if err := os.MkdirAll(r.Path(trainDir), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteJSON(r.Path(trainDir, MachineFile), m)
}

// cpuModel is the first "model name" of /proc/cpuinfo, or GOARCH where there is none.
func cpuModel() string {
	f, err := os.Open(filepath.Join("/proc", "cpuinfo"))
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
