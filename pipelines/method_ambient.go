package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// ambientDiffusion is method: ambient_diffusion, Ambient Diffusion (Daras et al. 2023) for
// observations with missing pixels: an x0 network that sees the noisy image through a further
// corrupted mask A~ = A ⊙ Bernoulli(1-delta) and is scored on the pixels A observes
// (baselines.Ambient). Its one-step estimate E[x0 | A y] is its amortized restoration; it
// samples, and solves inverse problems by DPS, through a fixed random mask of the training
// masks' density (AmbientFile). The observed pixels are those where A(1) is nonzero: for a
// corruption without a mask (a blur, or noise alone) every pixel is observed, and the method
// learns the observations' distribution, regularized only by its own further masking
// (docs/baselines.md).
type ambientDiffusion struct{}

func (ambientDiffusion) Name() string { return "ambient_diffusion" }

func (ambientDiffusion) Summary() string {
	return "Ambient Diffusion (Daras et al. 2023): an x0 network trained on further-masked observations, scored on the observed pixels"
}

func (ambientDiffusion) UsesCleanData() bool { return false }

func (ambientDiffusion) Amortized() string { return "Ambient Diffusion one-step estimate" }

func (ambientDiffusion) Check(p *Pipeline) []schema.Problem {
	return checkImageShaped(p, "ambient_diffusion", "learns from images with missing pixels")
}

// AmbientFile records, in the train folder, how ambient_diffusion's network samples.
const AmbientFile = "ambient.json"

// ambientSampling is AmbientFile: the sampling mask keeps each pixel with probability
// Survival, drawn from Seed for images of H x W x C.
type ambientSampling struct {
	Delta    float64 `json:"delta"`
	Survival float64 `json:"survival"`
	Seed     int64   `json:"seed"`
	H        int     `json:"height"`
	W        int     `json:"width"`
	C        int     `json:"channels"`
}

func (ambientDiffusion) Train(ctx context.Context, r *Run) error {
	if r.Data.TrainObs == nil || r.Data.TestObs == nil {
		return fmt.Errorf("method ambient_diffusion trains on the observations: add data and corruption sections")
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	obs := r.Data.TrainObs
	mask, err := baselines.ObservedMask(ctx, fwd.Op, r.Data.TrainParams, obs.Shape)
	if err != nil {
		return err
	}
	if allOnes(mask) {
		r.Log.Warn("the corruption hides no pixel: ambient_diffusion learns the observations' distribution, " +
			"masking only its own further corruption (docs/baselines.md)")
	}
	sched, err := schedule(r.P.Train.Config)
	if err != nil {
		return err
	}
	cfg := ambientConfig(r.P.Train)
	obj, err := baselines.NewAmbient(obs, mask, cfg, r.P.Train.UNet, sched, r.Seed("ambient.further"))
	if err != nil {
		return err
	}
	if err := trainBaseline(ctx, r, obj, r.Path(trainDir)); err != nil {
		return err
	}
	samp := ambientSampling{Delta: cfg.Delta, Survival: obj.Survival(), Seed: r.Seed("ambient.sampling"), H: obs.H, W: obs.W, C: obs.C}
	if err := atomicfile.WriteJSON(r.Path(trainDir, AmbientFile), samp); err != nil {
		return err
	}
	sigma := 0.0
	if g, ok := fwd.Noise.(*operators.GaussianNoise); ok {
		sigma = g.Sigma()
	} else if fwd.Noise != nil {
		r.Log.Warn("ambient_diffusion restores as if the observed pixels were noiseless: its noise level is set only for noise.gaussian")
	}
	testMask, err := baselines.ObservedMask(ctx, fwd.Op, r.Data.TestParams, r.Data.TestObs.Shape)
	if err != nil {
		return err
	}
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	model, _, err := train.LoadPrior(r.Path(trainDir), r.Log)
	if err != nil {
		return err
	}
	x, err := baselines.RestoreAmbient(ctx, be, model, r.P.Train.UNet, cfg.SigmaData, sched, r.Data.TestObs, testMask, sigma, r.P.Train.Batch)
	if err != nil {
		return err
	}
	return writeAmortized(r, x)
}

// ambientConfig is train.ambient_diffusion (decoded with its defaults), or its defaults when
// absent.
func ambientConfig(t *TrainConfig) baselines.AmbientConfig {
	if t.Ambient != nil {
		return *t.Ambient
	}
	var c baselines.AmbientConfig
	schema.FillDefaults(&c)
	return c
}

func allOnes(b *batch.Batch) bool {
	for _, v := range b.Data {
		if v != 1 {
			return false
		}
	}
	return true
}

// Prior samples with the x0 network through the fixed mask recorded in AmbientFile.
func (ambientDiffusion) Prior(be backends.Backend, p *Pipeline, dir string, batchSize int, log *slog.Logger) (*priorSampler, error) {
	data, err := os.ReadFile(filepath.Join(dir, AmbientFile))
	if err != nil {
		return nil, fmt.Errorf("ambient_diffusion: the sampling mask's settings: %w (train the model first)", err)
	}
	var s ambientSampling
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("ambient_diffusion: %s is damaged: %w", AmbientFile, err)
	}
	mask := baselines.SamplingMask(batch.Shape{N: 1, H: s.H, W: s.W, C: s.C}, s.Survival, s.Seed)
	return newPriorSamplerFunc(be, dir, p.Train.Config, batchSize, log, baselines.AmbientEps(p.Train.UNet, ambientConfig(p.Train).SigmaData, mask))
}

func init() { registerMethod(ambientDiffusion{}) }

var _ Method = ambientDiffusion{}
