package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// priorSampler draws from the trained diffusion prior in image units. The U-Net works on
// 2x-1 (DDPM's [-1,1], see core/diffusion's model units); samples are clipped to [-1,1] at
// every step (diffusion.ModelClip) and returned as (x+1)/2 in [0,1] (diffusion.ToImage).
type priorSampler struct {
	s     *diffusion.Sampler
	step  int // the training step of the checkpoint the weights come from
	sched *diffusion.Schedule
	batch int
	log   *slog.Logger
}

// newPriorSampler loads the EMA weights of the diffusion model from the training folder dir.
func newPriorSampler(be backends.Backend, dir string, cfg train.Config, batchSize int, log *slog.Logger) (*priorSampler, error) {
	return newPriorSamplerFunc(be, dir, cfg, batchSize, log, nil)
}

// newPriorSamplerFunc is newPriorSampler for a network that predicts the noise through eps
// (nil: the U-Net as a noise predictor, diffusion.EpsModel).
func newPriorSamplerFunc(be backends.Backend, dir string, cfg train.Config, batchSize int, log *slog.Logger, eps diffusion.EpsFunc) (*priorSampler, error) {
	model, step, err := train.LoadPrior(dir, log)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewLinear(cfg.Diffusion.Steps, cfg.Diffusion.BetaStart, cfg.Diffusion.BetaEnd)
	if err != nil {
		return nil, fmt.Errorf("train.diffusion: %w", err)
	}
	s, err := diffusion.NewSamplerFunc(be, model, cfg.UNet, sched, eps)
	if err != nil {
		return nil, err
	}
	log.Info("diffusion prior loaded (EMA weights)", "dir", dir, "checkpoint_step", step)
	return &priorSampler{s: s, step: step, sched: sched, batch: max(1, batchSize), log: log}, nil
}

// sampleJob is one sampling task split into batches, each stored as a part file as soon as it
// is done, so an interrupted run redoes only the missing batches: the noise of image k comes
// from stream k of the seed (core/diffusion), so batches computed in any order and size give
// the same images.
type sampleJob struct {
	name     string // file stem: prior, dps
	dir      string // folder of the final .npy and the parts
	settings any    // what the images depend on; parts made with other settings are discarded
	n        int
	shape    batch.Shape // of one image (N ignored)
	draw     func(ctx context.Context, from, to int) (*batch.Batch, error)
}

// run returns the job's n images, from its final file when complete, else batch by batch.
func (j sampleJob) run(ctx context.Context, batchSize int, log *slog.Logger) (*batch.Batch, error) {
	final := filepath.Join(j.dir, j.name+".npy")
	parts := filepath.Join(j.dir, "parts-"+j.name)
	settingsFile := filepath.Join(parts, "settings.json")
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", parts, err)
	}
	want, err := json.Marshal(j.settings)
	if err != nil {
		return nil, err
	}
	if old, err := os.ReadFile(settingsFile); err != nil || !sameJSON(old, want) {
		if err := os.RemoveAll(parts); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(parts, 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(settingsFile, want, 0o644); err != nil {
			return nil, err
		}
	}
	out := batch.New(j.n, j.shape.H, j.shape.W, j.shape.C)
	meter := progress.New(log, j.name+" sampling", "batch", (j.n+batchSize-1)/batchSize)
	for from, k := 0, 1; from < j.n; from, k = from+batchSize, k+1 {
		to := min(j.n, from+batchSize)
		part := filepath.Join(parts, fmt.Sprintf("%06d.npy", from))
		b, err := readBatchVerified(part, false)
		if err != nil || b.N != to-from || b.ImageSize() != j.shape.ImageSize() {
			if _, serr := os.Stat(part); serr == nil {
				log.Warn("stored sample part cannot be used; drawing it again", "err", fmt.Sprint(err))
			}
			if b, err = j.draw(ctx, from, to); err != nil {
				return nil, fmt.Errorf("%s images %d..%d: %w", j.name, from, to-1, err)
			}
			if err := writeBatchSummed(part, b.Dims(), b.Data); err != nil {
				return nil, err
			}
		} else {
			meter.Skip(1) // read back, not drawn: not this process's rate
		}
		copy(out.Data[from*out.ImageSize():], b.Data)
		meter.Update(k)
	}
	if err := writeBatchSummed(final, out.Dims(), out.Data); err != nil {
		return nil, fmt.Errorf("%w (the %d images drawn are kept in %s for the next try)", err, j.n, parts)
	}
	return out, os.RemoveAll(parts)
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// writeBatchSummed writes b as an '<f4' .npy file with its checksum file (core/atomicfile), for
// outputs read back later.
func writeBatchSummed(path string, dims []int, data []float32) error {
	return atomicfile.WriteSummed(path, 0o644, func(w io.Writer) error { return npy.Write(w, dims, data) })
}

// readBatch reads an [N,H,W,C] .npy file, verified against its checksum file when it has
// one (outputs of older builds have none).
func readBatch(path string) (*batch.Batch, error) { return readBatchVerified(path, true) }

// readBatchVerified reads an [N,H,W,C] .npy file after checking it against its checksum
// file (core/atomicfile); a file without one is read as it is when allowUnsummed (outputs of
// older builds).
func readBatchVerified(path string, allowUnsummed bool) (*batch.Batch, error) {
	data, err := atomicfile.ReadVerified(path, allowUnsummed)
	if err != nil {
		return nil, err
	}
	a, err := npy.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(a.Shape) != 4 {
		return nil, fmt.Errorf("%s: shape %v, want [N,H,W,C]", path, a.Shape)
	}
	return batch.FromData(batch.Shape{N: a.Shape[0], H: a.Shape[1], W: a.Shape[2], C: a.Shape[3]}, a.Data)
}

// priorJob draws n unconditional samples of shape with the prior sampler kind ("ddim" with
// steps steps, eta 0, or "ancestral" with all T).
func (ps *priorSampler) priorJob(dir string, n int, shape batch.Shape, kind string, steps int, seed int64) sampleJob {
	settings := map[string]any{"sampler": kind, "steps": steps, "seed": seed, "shape": shape.String()}
	return sampleJob{name: "prior", dir: dir, settings: settings, n: n, shape: shape,
		draw: func(ctx context.Context, from, to int) (*batch.Batch, error) {
			s := shape
			s.N = to - from
			opt := diffusion.SampleOptions{Seed: seed, FirstIndex: from, Clip: diffusion.ModelClip}
			var x *batch.Batch
			var err error
			switch kind {
			case "ancestral":
				x, err = ps.s.Ancestral(ctx, s, opt)
			case "ddim":
				x, err = ps.s.DDIM(ctx, s, steps, 0, opt)
			default:
				err = fmt.Errorf("unknown prior sampler %q (ddim or ancestral)", kind)
			}
			if err != nil {
				return nil, err
			}
			return diffusion.ToImage(x), nil
		}}
}

// dpsJob restores the first n observations of obs (with their operator parameters) by DPS
// with step size zeta over steps steps (0: all T), guiding through op applied to the prior's
// images and weighting the residual for noise model nm (see diffusion.DPSWeights).
func (ps *priorSampler) dpsJob(dir string, obs *batch.Batch, params part.Params, op part.Operator,
	nm part.NoiseModel, clean batch.Shape, n, steps int, zeta float64, seed int64) (sampleJob, error) {
	n = min(n, obs.N)
	settings := map[string]any{"zeta": zeta, "steps": steps, "seed": seed, "shape": clean.String(), "n": n}
	return sampleJob{name: "dps", dir: dir, settings: settings, n: n, shape: clean,
		draw: func(ctx context.Context, from, to int) (*batch.Batch, error) {
			y := obs.Slice(from, to)
			w, err := diffusion.DPSWeights(ctx, nm, y)
			if err != nil {
				return nil, err
			}
			s := clean
			s.N = to - from
			prob := diffusion.DPSProblem{Op: diffusion.InModelRange(op), Params: params.Slice(from, to), Y: y, Zeta: zeta, Weight: w, Steps: steps}
			x, err := ps.s.DPS(ctx, s, prob, diffusion.SampleOptions{Seed: seed, FirstIndex: from, Clip: diffusion.ModelClip})
			if err != nil {
				return nil, err
			}
			return diffusion.ToImage(x), nil
		}}, nil
}
