package observe

import (
	"fmt"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats"
)

// Options configure Load.
type Options struct {
	// Height and Width are the size of one observation given to the models, in pixels: whole
	// pages must have it, patches are cut to it. 0 and 0 keep the files' size (all pages must
	// then have one size).
	Height, Width int
	// Channels is the number of samples per pixel every file must have: 1 or 3. 0 means 1.
	Channels int
	// Patches, when positive, cuts this many patches from every page.
	Patches int
	// Seed fixes the patch positions: file i of the list uses the PCG stream (Seed, i).
	Seed int64
	// Norm maps stored values to model units.
	Norm Normalization
}

// Set is what Load returns: the observations, their references when given, and how each
// file was normalized.
type Set struct {
	Obs *batch.Batch // [N, H, W, C] in model units
	Ref *batch.Batch // the references, normalized like their observations; nil without them
	// Names names each image (see the package doc).
	Names []string
	// Scalings holds each file's normalization, by relative name.
	Scalings map[string]formats.Scaling
}

// Read reads one input and normalizes it with norm, checking that it has channels samples per
// pixel (0 means 1). Errors name the file.
func Read(in Input, norm Normalization, channels int) (*formats.Image, formats.Scaling, error) {
	if channels == 0 {
		channels = 1
	}
	img, err := formats.Read(in.Path)
	if err != nil {
		return nil, formats.Scaling{}, err
	}
	if img.C != channels {
		return nil, formats.Scaling{}, fmt.Errorf("%s: %d samples per pixel, the model takes %d (data.channels): observations are not converted between gray and color", in.Path, img.C, channels)
	}
	s, err := norm.Normalize(img)
	if err != nil {
		return nil, s, fmt.Errorf("%s: %w", in.Path, err)
	}
	return img, s, nil
}

// Load reads, normalizes and (as o says) cuts the inputs into one set. refs maps relative
// names to reference files (see MatchReferences); nil loads no references. A reference must
// have its observation's dimensions and is normalized with its observation's Scaling.
func Load(inputs []Input, refs map[string]string, o Options) (*Set, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("load observations: the list is empty")
	}
	if err := o.Norm.Check(); err != nil {
		return nil, err
	}
	s := &Set{Scalings: map[string]formats.Scaling{}}
	var obs, ref []*batch.Batch
	h, w := o.Height, o.Width
	for i, in := range inputs {
		img, sc, err := Read(in, o.Norm, o.Channels)
		if err != nil {
			return nil, err
		}
		s.Scalings[in.Rel] = sc
		var rimg *formats.Image
		if refs != nil {
			if rimg, err = readReference(refs[in.Rel], img, sc); err != nil {
				return nil, fmt.Errorf("reference of %s: %w", in.Path, err)
			}
		}
		if h == 0 && w == 0 {
			h, w = img.H, img.W
		}
		rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(i)))
		for k := range img.N {
			name := in.Rel
			if img.N > 1 {
				name = fmt.Sprintf("%s#page%d", in.Rel, k)
			}
			page := pageBatch(img, k)
			var rpage *batch.Batch
			if rimg != nil {
				rpage = pageBatch(rimg, k)
			}
			if o.Patches == 0 {
				if page.H != h || page.W != w {
					return nil, fmt.Errorf("%s: %dx%d pixels (width x height), the models take %dx%d: set the size to the observations', or cut patches; observations are never resampled (it would change their noise)",
						name, page.W, page.H, w, h)
				}
				obs, s.Names = append(obs, page), append(s.Names, name)
				if rpage != nil {
					ref = append(ref, rpage)
				}
				continue
			}
			if page.H < h || page.W < w {
				return nil, fmt.Errorf("%s: %dx%d pixels, smaller than the %dx%d patches", name, page.W, page.H, w, h)
			}
			for p := range o.Patches {
				y0, x0 := rng.IntN(page.H-h+1), rng.IntN(page.W-w+1)
				obs = append(obs, crop(page, y0, x0, h, w))
				if rpage != nil {
					ref = append(ref, crop(rpage, y0, x0, h, w))
				}
				s.Names = append(s.Names, fmt.Sprintf("%s#p%d@%d,%d", name, p, y0, x0))
			}
		}
	}
	var err error
	if s.Obs, err = batch.Concat(obs...); err != nil {
		return nil, fmt.Errorf("load observations: %w", err)
	}
	if ref != nil {
		if s.Ref, err = batch.Concat(ref...); err != nil {
			return nil, fmt.Errorf("load references: %w", err)
		}
	}
	return s, nil
}

// readReference reads a reference file, checks it against its observation's dimensions and
// normalizes it with the observation's Scaling.
func readReference(path string, obs *formats.Image, sc formats.Scaling) (*formats.Image, error) {
	if path == "" {
		return nil, fmt.Errorf("no reference file")
	}
	r, err := formats.Read(path)
	if err != nil {
		return nil, err
	}
	if r.W != obs.W || r.H != obs.H || r.C != obs.C || r.N != obs.N {
		return nil, fmt.Errorf("%s is %dx%dx%d with %d image(s), the observation %dx%dx%d with %d",
			path, r.W, r.H, r.C, r.N, obs.W, obs.H, obs.C, obs.N)
	}
	sc.Apply(r.Data)
	return r, nil
}

// pageBatch returns image k of img as a [1, H, W, C] batch sharing img's memory.
func pageBatch(img *formats.Image, k int) *batch.Batch {
	return &batch.Batch{Shape: batch.Shape{N: 1, H: img.H, W: img.W, C: img.C}, Data: img.Page(k)}
}

// crop copies the h x w window at (y0, x0) of a one-image batch.
func crop(b *batch.Batch, y0, x0, h, w int) *batch.Batch {
	out := batch.New(1, h, w, b.C)
	row := w * b.C
	for y := range h {
		copy(out.Data[y*row:(y+1)*row], b.Data[b.Index(0, y0+y, x0, 0):])
	}
	return out
}
