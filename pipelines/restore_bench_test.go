package pipelines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/observe"
)

// BenchmarkRestore512 measures `flowdiff restore` on 512x512 8-bit images on the go backend, with
// the flow of pipelines/examples/fmd-denoise.yaml (model=example: 2 levels of 4 steps, 32 hidden
// channels) and the smaller one it had before (model=small: 2 levels of 2 steps, 16 hidden),
// each trained for 2 steps here (speed does not depend on the weights): one image per
// iteration, read, normalized, restored and written with its sidecar, the models loaded and
// compiled for the size beforehand (as a restore of many files does once). Cases: the whole image
// with 1 and 8 posterior draws (8 is the example's posterior_samples), and 32x32 tiles
// overlapping by 8 with 1 draw. The figures are in docs/restore.md.
//
//	go test -run XXX -bench Restore512 -benchtime 3x ./pipelines/
func BenchmarkRestore512(b *testing.B) {
	tmp := b.TempDir()
	obs, _ := writeNoisyTIFFs(b, tmp, 4, 1, 32, 1)
	in := filepath.Join(tmp, "in", "img.tif")
	img := &formats.Image{W: 512, H: 512, C: 1, N: 1, SourceType: dtype.Uint8, Data: make([]float32, 512*512)}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range img.Data {
		img.Data[i] = float32(rng.IntN(256))
	}
	if _, err := formats.Write(in, img); err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct{ name, flow string }{
		{"example", "{levels: 2, steps: 4, hidden: 32, cond_hidden: 16}"},
		{"small", "{levels: 2, steps: 2, hidden: 16, cond_hidden: 8}"},
	} {
		p, err := Parse("bench.yaml", []byte(fmt.Sprintf(`version: 1
name: bench
data: {source: observations, path: %s, size: 32, train: 3, test: 1}
corruption:
  - op: noise.poisson_gaussian
    gain: 0.0165
    sigma: 0.0011
train:
  batch: 8
  steps: 2
  posterior_samples: 8
  flow: %s
  unet: {channels: 8, multipliers: [1, 2], time_embed: 16}
`, obs, m.flow)))
		if err != nil {
			b.Fatal(err)
		}
		run := filepath.Join(tmp, "run-"+m.name)
		if _, err := Execute(context.Background(), p, Options{Out: run}); err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			tiling string
			draws  int
		}{{"whole/draws=1", "whole", 1}, {"whole/draws=8", "whole", 8}, {"tiles32/draws=1", "tiles", 1}} {
			b.Run("model="+m.name+"/"+c.name, func(b *testing.B) {
				ctx := context.Background()
				req := RestoreRequest{RunDir: run, Tiling: c.tiling, Draws: c.draws}
				rs, closeModels, err := openRestorer(ctx, req, p)
				if err != nil {
					b.Fatal(err)
				}
				defer closeModels()
				input := observe.Input{Path: in, Rel: "img.tif"}
				warm := restoreJob{rs: rs, p: p, runDir: run, out: b.TempDir()}
				if _, err := warm.file(ctx, input); err != nil { // compiles the graphs for this shape
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := range b.N {
					job := restoreJob{rs: rs, p: p, runDir: run, out: filepath.Join(tmp, fmt.Sprintf("out-%s-%s-%d-%d", m.name, c.tiling, c.draws, i))}
					if _, err := job.file(ctx, input); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
