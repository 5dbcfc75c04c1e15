package pipelines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/observe"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// ScalingFile is the record, in the run folder, of how each observation file was normalized
// (corrupted/scaling.json): `flowdiff restore` and readers of the stored observations map
// model units back to the files' units with it.
const ScalingFile = "corrupted/scaling.json"

// ScalingRecord is the content of ScalingFile.
type ScalingRecord struct {
	// Normalization is the pipeline's rule (data.normalize, offset, scale).
	Normalization observe.Normalization `json:"normalization"`
	// Files holds each observation file's Scaling, by relative name: x' = (x - offset) / scale.
	Files map[string]formats.Scaling `json:"files"`
}

// observed is what the data stage read for source: observations.
type observed struct {
	train, test *data.Dataset // the observations, split like the clean sources' images
	scalings    ScalingRecord
}

// Normalization returns the data section's normalization of observations.
func (c *DataConfig) Normalization() observe.Normalization {
	n := observe.Normalization{Mode: formats.Mode(c.Normalize)}
	if n.Mode == observe.Fixed {
		n.Offset, n.Scale = c.Offset, c.Scale
	}
	return n
}

// loadObservations is the data stage of source: observations. It reads the observations (and
// their references, when given) at native resolution, as whole images of the declared forward
// model's output shape for a data.size clean image, or as patches of it, and splits them into
// train and test sets with the seed, references alongside.
func loadObservations(ctx context.Context, r *Run) error {
	c := r.P.Data
	clean := batch.Shape{N: 1, H: c.Size, W: c.Size, C: c.Channels}
	out := clean // with auto noise parameters the operators must keep the shape (checked once built)
	if len(r.P.auto) == 0 {
		fwd, err := r.Forward(ctx)
		if err != nil {
			return err
		}
		if out, err = fwd.Op.OutShape(ctx, clean); err != nil {
			return fmt.Errorf("corruption: the declared operators cannot act on %dx%dx%d images (data.size, data.channels): %w", c.Size, c.Size, c.Channels, err)
		}
	}
	inputs, err := observe.List([]string{c.Path})
	if err != nil {
		return fmt.Errorf("data.path: %w", err)
	}
	var refs map[string]string
	if c.ReferencePath != "" {
		list, err := observe.List([]string{c.ReferencePath})
		if err != nil {
			return fmt.Errorf("data.reference_path: %w", err)
		}
		if refs, err = observe.MatchReferences(inputs, list); err != nil {
			return fmt.Errorf("data.reference_path: %w", err)
		}
	}
	set, err := observe.Load(inputs, refs, observe.Options{Height: out.H, Width: out.W, Channels: out.C,
		Patches: c.Patches, Seed: r.Seed("data.patches"), Norm: c.Normalization()})
	if err != nil {
		shape := ""
		if out != clean {
			shape = fmt.Sprintf(" (the declared forward model maps a %dx%d clean image to %dx%d observations)", clean.W, clean.H, out.W, out.H)
		}
		return fmt.Errorf("data.path: %w%s", err, shape)
	}
	src := fmt.Sprintf("observations %s (%d files)", c.Path, len(inputs))
	all := &data.Dataset{Images: set.Obs, Names: set.Names, Source: src}
	o := &observed{scalings: ScalingRecord{Normalization: c.Normalization(), Files: set.Scalings}}
	if o.train, o.test, err = splitTake(all, c, r); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	r.Data.observed = o
	r.Data.Clean = clean
	if set.Ref != nil {
		ref := &data.Dataset{Images: set.Ref, Names: set.Names, Source: "references " + c.ReferencePath}
		if r.Data.Train, r.Data.Test, err = splitTake(ref, c, r); err != nil {
			return fmt.Errorf("data: %w", err)
		}
	}
	r.Log.Info("observations loaded", "source", src, "train", o.train.Len(), "test", o.test.Len(),
		"shape", all.Images.Shape.String(), "references", set.Ref != nil)
	return nil
}

// splitTake splits d into test and train sets as the folder source does (the same seed gives
// the same split for the observations and their references) and keeps data.train of the
// training images.
func splitTake(d *data.Dataset, c *DataConfig, r *Run) (*data.Dataset, *data.Dataset, error) {
	train, test, err := d.Split(c.Test, r.Seed("data.split"))
	if err != nil {
		return nil, nil, err
	}
	if train, err = train.Take(c.Train); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// storeObservations is the corrupt stage of source: observations: the forward model is
// declared, not applied, so the observations are stored as read (core/corrupt's format, the
// references, when given, as its clean images) with the operators' per-sample parameters when
// they have fixed ones, and the normalization of every file goes to ScalingFile. Auto noise
// parameters are estimated from the training observations first (as for runObserved).
func storeObservations(ctx context.Context, r *Run) error {
	o := r.Data.observed
	auto := len(r.P.auto) > 0
	fwd, err := resolveAuto(ctx, r, o.train.Images)
	if err != nil {
		return err
	}
	if auto {
		if err := checkObservedOps(ctx, fwd.Op, o.train.Images.Shape); err != nil {
			return err
		}
		if err := writeResolved(r); err != nil {
			return err
		}
	}
	text, err := corrupt.ResolvedYAML(r.P.Corruption)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		name, dir string
		obs, ref  *data.Dataset
	}{
		{"train", trainStore, o.train, r.Data.Train},
		{"test", testStore, o.test, r.Data.Test},
	} {
		seed := r.Seed("corrupt." + s.name)
		clean := r.Data.Clean
		clean.N = s.obs.Len()
		params, err := fixedParams(ctx, r.P.Corruption, fwd.Op, clean, seed, s.obs.Names)
		if err != nil {
			return err
		}
		var ref *batch.Batch
		if s.ref != nil {
			ref = s.ref.Images
		}
		meta := corrupt.Manifest{Seed: seed, Corruption: text, Dataset: s.obs.Source + "; stored as read: the corruption is declared, not applied"}
		if err := corrupt.Write(r.Path(s.dir), s.obs.Images, params, ref, meta); err != nil {
			return err
		}
		r.Log.Info("observations stored", "set", s.name, "dir", r.Path(s.dir), "shape", s.obs.Images.Shape.String())
		r.Data.setObservations(s.name, s.obs.Images, params)
	}
	return atomicfile.WriteJSON(r.Path(ScalingFile), o.scalings)
}

// fixedParams draws the operators' per-sample parameters for n clean images twice, from two
// streams, giving operators that read theirs from files (mask.file, operators.NamedParams)
// the observations' names. Equal draws are fixed parameters (a mask read from a file), which
// are used; different draws are random ones (a random mask per image), which real
// observations cannot supply: they must be the parameters the observations were measured
// with, so that is an error naming the operator.
func fixedParams(ctx context.Context, corruption []registry.Spec, op part.Operator, clean batch.Shape, seed int64, names []string) (part.Params, error) {
	draw := func(stream uint64) (part.Params, error) {
		rng := rand.New(rand.NewPCG(uint64(seed), stream))
		if np, ok := op.(operators.NamedParams); ok && len(names) == clean.N {
			return np.ParamsFor(ctx, rng, names, clean)
		}
		return op.SampleParams(ctx, rng, clean)
	}
	a, err := draw(1)
	if err != nil {
		return nil, fmt.Errorf("corruption: draw the operators' parameters: %w", err)
	}
	b, err := draw(2)
	if err != nil {
		return nil, fmt.Errorf("corruption: draw the operators' parameters: %w", err)
	}
	for _, k := range a.Keys() {
		if b[k] != nil && slices.Equal(a[k].Data, b[k].Data) {
			continue
		}
		where := "corruption"
		if pos, _, ok := strings.Cut(k, "."); ok {
			if i, err := strconv.Atoi(pos); err == nil && i < len(corruption) {
				where = fmt.Sprintf("corruption[%d] (%s)", i, corruption[i].ID)
			}
		}
		return nil, fmt.Errorf("%s: draws random per-sample parameters (%q) but the observations were measured with parameters of their own, which would have to be known: declare an operator with fixed parameters (a measured mask: mask.file), or train on clean data (source: folder)", where, k)
	}
	return a, nil
}

// ScalingPath is where a run folder keeps ScalingFile.
func ScalingPath(runDir string) string { return filepath.Join(runDir, filepath.FromSlash(ScalingFile)) }
