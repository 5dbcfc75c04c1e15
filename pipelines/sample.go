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
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// priorSampler draws from the trained diffusion prior in image units. The U-Net works on
// 2x-1 (DDPM's [-1,1], see core/train); samples are clipped to [-1,1] at every step
// (SampleOptions.Clip) and returned as (x+1)/2 in [0,1].
type priorSampler struct {
	s     *diffusion.Sampler
	sched *diffusion.Schedule
	batch int
	log   *slog.Logger
}

// newPriorSampler loads the EMA weights of the diffusion model from the training folder dir.
func newPriorSampler(be backends.Backend, dir string, cfg train.Config, batchSize int, log *slog.Logger) (*priorSampler, error) {
	model, step, err := train.LoadPrior(dir, log)
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewLinear(cfg.Diffusion.Steps, cfg.Diffusion.BetaStart, cfg.Diffusion.BetaEnd)
	if err != nil {
		return nil, fmt.Errorf("train.diffusion: %w", err)
	}
	s, err := diffusion.NewSampler(be, model, cfg.UNet, sched)
	if err != nil {
		return nil, err
	}
	log.Info("diffusion prior loaded (EMA weights)", "dir", dir, "checkpoint_step", step)
	return &priorSampler{s: s, sched: sched, batch: max(1, batchSize), log: log}, nil
}

// modelClip is the range of the diffusion model's images (2x-1 of [0,1]).
var modelClip = [2]float64{-1, 1}

// toImage maps model units to [0,1] intensities, clipped.
func toImage(b *batch.Batch) *batch.Batch {
	out := b.Clone()
	for i, v := range out.Data {
		out.Data[i] = min(1, max(0, (v+1)/2))
	}
	return out
}

// modelRangeOp applies A to model-unit images: B(x) = A((x+1)/2), so DPS can guide the U-Net's
// x0_hat with the observations' operator, which acts on [0,1] intensities. Its VJP is
// J_A((x+1)/2)ᵀ v / 2. It keeps A's in-graph form when A has one; otherwise (a plugin's
// operator) DPS takes the gradient-injection path through Apply and VJP.
type modelRangeOp struct{ part.Operator }

func toUnit(x *batch.Batch) *batch.Batch {
	u := x.Clone()
	for i, v := range u.Data {
		u.Data[i] = (v + 1) / 2
	}
	return u
}

func (m modelRangeOp) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return m.Operator.Apply(ctx, toUnit(x), p)
}

func (m modelRangeOp) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	g, err := m.Operator.VJP(ctx, toUnit(x), v, p)
	if err != nil {
		return nil, err
	}
	for i := range g.Data {
		g.Data[i] /= 2
	}
	return g, nil
}

// modelRangeGraphOp is modelRangeOp for an A with an in-graph form, which it keeps.
type modelRangeGraphOp struct{ modelRangeOp }

func (m modelRangeGraphOp) ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node {
	return m.Operator.(operators.GraphOperator).ApplyGraph(graph.MulScalar(graph.AddScalar(x, 1), 0.5), p)
}

// inModelRange wraps op as modelRangeGraphOp when it has an in-graph form, else modelRangeOp.
func inModelRange(op part.Operator) part.Operator {
	if operators.HasGraph(op) {
		return modelRangeGraphOp{modelRangeOp{op}}
	}
	return modelRangeOp{op}
}

// dpsWeights returns the per-pixel residual weights of DPS for noise model nm: nil (the plain
// residual norm, Chung et al. 2022 Algorithm 1) for Gaussian noise and for models that do not
// state their variance; otherwise w_j = mean(v)/v_j with v_j the noise variance at y_j (floored
// at 1% of the mean variance), which is Algorithm 2's Λ_jj ∝ 1/y_j for Poisson noise, scaled
// so that the mean weight is 1 and zeta keeps its meaning.
func dpsWeights(ctx context.Context, nm part.NoiseModel, y *batch.Batch) (*batch.Batch, error) {
	if _, gaussian := nm.(*operators.GaussianNoise); gaussian || nm == nil {
		return nil, nil
	}
	mom, ok := nm.(part.NoiseMoments)
	if !ok {
		return nil, nil
	}
	_, v, err := mom.Moments(ctx, y)
	if err != nil {
		return nil, fmt.Errorf("dps weights: %w", err)
	}
	var mean float64
	for _, x := range v.Data {
		mean += float64(x) / float64(len(v.Data))
	}
	if !(mean > 0) {
		return nil, nil
	}
	w := batch.New(y.N, y.H, y.W, y.C)
	for i, x := range v.Data {
		w.Data[i] = float32(mean / max(float64(x), 0.01*mean))
	}
	return w, nil
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
			opt := diffusion.SampleOptions{Seed: seed, FirstIndex: from, Clip: modelClip}
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
			return toImage(x), nil
		}}
}

// dpsJob restores the first n observations of obs (with their operator parameters) by DPS
// with step size zeta over steps steps (0: all T), guiding through op applied to the prior's
// images and weighting the residual for noise model nm (see dpsWeights).
func (ps *priorSampler) dpsJob(dir string, obs *batch.Batch, params part.Params, op part.Operator,
	nm part.NoiseModel, clean batch.Shape, n, steps int, zeta float64, seed int64) (sampleJob, error) {
	n = min(n, obs.N)
	settings := map[string]any{"zeta": zeta, "steps": steps, "seed": seed, "shape": clean.String(), "n": n}
	return sampleJob{name: "dps", dir: dir, settings: settings, n: n, shape: clean,
		draw: func(ctx context.Context, from, to int) (*batch.Batch, error) {
			y := obs.Slice(from, to)
			w, err := dpsWeights(ctx, nm, y)
			if err != nil {
				return nil, err
			}
			s := clean
			s.N = to - from
			prob := diffusion.DPSProblem{Op: inModelRange(op), Params: params.Slice(from, to), Y: y, Zeta: zeta, Weight: w, Steps: steps}
			x, err := ps.s.DPS(ctx, s, prob, diffusion.SampleOptions{Seed: seed, FirstIndex: from, Clip: modelClip})
			if err != nil {
				return nil, err
			}
			return toImage(x), nil
		}}, nil
}
