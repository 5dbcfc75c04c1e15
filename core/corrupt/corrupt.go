// Package corrupt makes corrupted observations y = N(A(x)) from clean images and keeps them in
// the corrupted-dataset store, a folder that FlowDiff-Go trains from:
//
//	<dir>/manifest.json       format version, seed, resolved corruption YAML, and for every
//	                          array its path, shape, dtype and SHA-256 (written last)
//	<dir>/manifest.json.sha256  the manifest's SHA-256
//	<dir>/observations.npy    y, float32 [N,H,W,C] (the training data)
//	<dir>/params/<key>.npy    each per-sample operator parameter, float32 [N,...], named by
//	                          its Params key ("1.mask", "0.choice", ...)
//	<dir>/clean/clean.npy     the clean images x, float32 [N,H,W,C]: kept apart, for
//	                          evaluation only (Read does not load it; ReadClean does)
//
// Arrays are NumPy .npy files (version 1.0, '<f4', C order; see core/formats/npy), so
// np.load reads the store directly. The arrays are first written, each atomically (temporary
// file, fsync, rename), into a temporary folder inside the store, so a write that fails there
// (a full disk) leaves the previous store as it was; then the old manifest is removed, the
// arrays are moved in and the new manifest is written last, with its checksum file
// manifest.json.sha256 (sha256sum format). A store interrupted while being swapped has no
// manifest and Read refuses it, rather than mixing old and new files. Read verifies the
// manifest's checksum (when it has one) and every array's checksum and shape, and names the
// file at fault.
//
// Corrupt is deterministic: the same clean images, operators, noise model and seed give the
// same bytes, whatever the chunking or the number of cores.
package corrupt

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Random streams drawn from the seed: PCG(seed, StreamParams) for the operators' per-sample
// parameters, PCG(seed, StreamNoise) for the noise, so changing the noise model does not
// change the masks and vice versa.
const (
	StreamParams = 0xC0_0001
	StreamNoise  = 0xC0_0002
)

// ChunkSize is the number of images corrupted between cancellation checks.
const ChunkSize = 256

// Corrupt applies the operators in order, then the noise model (nil: none), to clean and
// returns the observations and the operators' per-sample parameters, keyed as a
// operators.Compose of ops keys them ("<position>.<key>", e.g. "1.mask"). The parameters are
// drawn for the whole batch first, then the images are corrupted chunk by chunk.
func Corrupt(ctx context.Context, clean *batch.Batch, ops []part.Operator, noise part.NoiseModel, seed int64) (*batch.Batch, part.Params, error) {
	chain := operators.NewCompose(ops...)
	out, err := chain.OutShape(ctx, clean.Shape)
	if err != nil {
		return nil, nil, fmt.Errorf("corrupt: %w", err)
	}
	params, err := chain.SampleParams(ctx, rand.New(rand.NewPCG(uint64(seed), StreamParams)), clean.Shape)
	if err != nil {
		return nil, nil, fmt.Errorf("corrupt: draw parameters: %w", err)
	}
	noiseRNG := rand.New(rand.NewPCG(uint64(seed), StreamNoise))
	obs := batch.New(out.N, out.H, out.W, out.C)
	sz := out.ImageSize()
	for from := 0; from < clean.N; from += ChunkSize {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		to := min(from+ChunkSize, clean.N)
		y, err := chain.Apply(ctx, clean.Slice(from, to), params.Slice(from, to))
		if err != nil {
			return nil, nil, fmt.Errorf("corrupt images %d-%d: %w", from, to-1, err)
		}
		if noise != nil {
			if y, err = noise.Sample(ctx, noiseRNG, y); err != nil {
				return nil, nil, fmt.Errorf("corrupt images %d-%d: noise: %w", from, to-1, err)
			}
		}
		if y.Shape != (batch.Shape{N: to - from, H: out.H, W: out.W, C: out.C}) {
			return nil, nil, fmt.Errorf("corrupt: operators gave %s, expected %d images of %s", y.Shape, to-from, out)
		}
		copy(obs.Data[from*sz:to*sz], y.Data)
	}
	return obs, params, nil
}

// ResolvedYAML renders a corruption list with every default filled in, as the manifest's
// Corruption text (the same form a pipeline's resolved copy uses).
func ResolvedYAML(specs []registry.Spec) (string, error) {
	out, err := yaml.Marshal(struct {
		Corruption []registry.Spec `yaml:"corruption"`
	}{specs})
	if err != nil {
		return "", fmt.Errorf("render corruption: %w", err)
	}
	return string(out), nil
}
