package metrics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// compareChunk is how many pairs of one image size are held in memory and scored together.
const compareChunk = 64

// Pair is one reference file and the image file compared with it.
type Pair struct {
	Ref string `json:"ref"`
	Img string `json:"img"`
}

// MetricResult is one metric's outcome over all pairs.
type MetricResult struct {
	ID             string `json:"id"`
	HigherIsBetter bool   `json:"higher_is_better"`
	// Summary and Values (one per pair, in Result.Pairs order) are nil when the metric is
	// unavailable.
	Summary *Summary  `json:"summary,omitempty"`
	Values  []float64 `json:"values,omitempty"`
	// Set is true for a set metric (FID, KID): one value for all pairs, Values nil.
	Set bool `json:"set,omitempty"`
	// Unavailable says why the metric could not run (for example LPIPS without its weights
	// file) and how to make it run; empty when it ran.
	Unavailable string `json:"unavailable,omitempty"`
}

// Result is what ComparePaths found.
type Result struct {
	Pairs   []Pair         `json:"pairs"`
	Metrics []MetricResult `json:"metrics"`
}

// ComparePaths scores img against the reference ref with the metrics ids (every registered
// metric, sorted, when ids is empty), each built with its default config. ref and img are
// both image files (PNG, JPEG, TIFF) or both folders; the images of two folders (not their
// subfolders) are paired by file name without extension, so ref/a.png pairs with img/a.tif.
// A name present on one side only, two files of one folder with the same name, or a pair of
// different sizes is an error naming the files.
//
// Images are read as RGB in [0, 1] (see core/data); a pair whose two images are both gray is
// scored as one channel. A metric that cannot be built on this machine (ErrUnavailable) is
// reported with its reason rather than failing the comparison; any other failure is an error.
func ComparePaths(ctx context.Context, ref, img string, ids []string) (Result, error) {
	pairs, err := pairPaths(ref, img)
	if err != nil {
		return Result{}, err
	}
	if len(ids) == 0 {
		ids = registry.Default.IDs(registry.KindMetric)
	}
	res := Result{Pairs: pairs}
	var ms []part.Metric
	var slots []int // index into res.Metrics of each metric in ms
	var sets []part.SetMetric
	var setSlots []int
	for _, id := range ids {
		v, err := Open(ctx, id)
		var ue *UnavailableError
		switch {
		case errors.As(err, &ue):
			res.Metrics = append(res.Metrics, MetricResult{ID: id, Unavailable: ue.Reason})
			continue
		case errors.Is(err, ErrUnavailable):
			res.Metrics = append(res.Metrics, MetricResult{ID: id, Unavailable: err.Error()})
			continue
		case err != nil:
			return Result{}, err
		}
		if sm, ok := v.(part.SetMetric); ok {
			setSlots = append(setSlots, len(res.Metrics))
			sets = append(sets, sm)
			res.Metrics = append(res.Metrics, MetricResult{ID: id, HigherIsBetter: sm.HigherIsBetter(), Set: true})
			continue
		}
		m := v.(part.Metric)
		slots = append(slots, len(res.Metrics))
		ms = append(ms, m)
		res.Metrics = append(res.Metrics, MetricResult{ID: id, HigherIsBetter: m.HigherIsBetter(),
			Values: make([]float64, len(pairs))})
	}
	// Set metrics see every pair's two images as two sets.
	var allRef, allImg []*batch.Batch
	// Pairs are loaded in order and grouped by image shape; a group is scored when it holds
	// compareChunk pairs, and every group at the end.
	type group struct {
		idx      []int
		ref, img []*batch.Batch
	}
	groups := map[batch.Shape]*group{}
	flush := func(g *group) error {
		if len(g.idx) == 0 {
			return nil
		}
		rb, err := batch.Concat(g.ref...)
		if err != nil {
			return err
		}
		ib, err := batch.Concat(g.img...)
		if err != nil {
			return err
		}
		for k, m := range ms {
			vals, err := m.Compute(ctx, rb, ib)
			if err != nil {
				mr := res.Metrics[slots[k]]
				return fmt.Errorf("%s on %s and %s (%s): %w", mr.ID, pairs[g.idx[0]].Ref, pairs[g.idx[0]].Img, rb.Shape, err)
			}
			for j, i := range g.idx {
				res.Metrics[slots[k]].Values[i] = vals[j]
			}
		}
		g.idx, g.ref, g.img = g.idx[:0], g.ref[:0], g.img[:0]
		return nil
	}
	for i, p := range pairs {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		a, b, err := readPair(p)
		if err != nil {
			return Result{}, err
		}
		g := groups[a.Shape]
		if g == nil {
			g = &group{}
			groups[a.Shape] = g
		}
		g.idx, g.ref, g.img = append(g.idx, i), append(g.ref, a), append(g.img, b)
		if len(sets) > 0 {
			allRef, allImg = append(allRef, a), append(allImg, b)
		}
		if len(g.idx) == compareChunk {
			if err := flush(g); err != nil {
				return Result{}, err
			}
		}
	}
	shapes := make([]batch.Shape, 0, len(groups))
	for s := range groups {
		shapes = append(shapes, s)
	}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].String() < shapes[j].String() })
	for _, s := range shapes {
		if err := flush(groups[s]); err != nil {
			return Result{}, err
		}
	}
	for _, k := range slots {
		s := Summarize(res.Metrics[k].Values)
		res.Metrics[k].Summary = &s
	}
	if err := scoreSets(ctx, &res, sets, setSlots, allRef, allImg, len(groups)); err != nil {
		return Result{}, err
	}
	return res, nil
}

// scoreSets fills the results of the set metrics from every reference and every image, as two
// sets; images of several sizes make them unavailable.
func scoreSets(ctx context.Context, res *Result, sets []part.SetMetric, slots []int, ref, img []*batch.Batch, sizes int) error {
	if len(sets) == 0 {
		return nil
	}
	if sizes != 1 {
		for _, k := range slots {
			res.Metrics[k].Unavailable = fmt.Sprintf("set metrics need images of one size, got %d sizes", sizes)
		}
		return nil
	}
	rb, err := batch.Concat(ref...)
	if err != nil {
		return err
	}
	ib, err := batch.Concat(img...)
	if err != nil {
		return err
	}
	for i, m := range sets {
		mr := &res.Metrics[slots[i]]
		v, err := m.CompareSets(ctx, rb, ib)
		var ue *UnavailableError
		switch {
		case errors.As(err, &ue):
			mr.Unavailable = ue.Reason
		case err != nil:
			return fmt.Errorf("%s: %w", mr.ID, err)
		default:
			mr.Summary = &Summary{Mean: v, N: rb.N}
		}
	}
	return nil
}

// readPair reads both files of p as RGB, checks their sizes agree and drops to one channel
// when both are gray.
func readPair(p Pair) (*batch.Batch, *batch.Batch, error) {
	a, err := data.ReadImageFile(p.Ref, 3, 0)
	if err != nil {
		return nil, nil, err
	}
	b, err := data.ReadImageFile(p.Img, 3, 0)
	if err != nil {
		return nil, nil, err
	}
	if a.H != b.H || a.W != b.W {
		return nil, nil, fmt.Errorf("%s is %dx%d but %s is %dx%d; compared images must have one size",
			p.Ref, a.W, a.H, p.Img, b.W, b.H)
	}
	if isGray(a) && isGray(b) {
		return firstChannel(a), firstChannel(b), nil
	}
	return a, b, nil
}

// isGray reports whether every pixel of the RGB batch b has equal channels.
func isGray(b *batch.Batch) bool {
	for i := 0; i < len(b.Data); i += 3 {
		if b.Data[i] != b.Data[i+1] || b.Data[i] != b.Data[i+2] {
			return false
		}
	}
	return true
}

func firstChannel(b *batch.Batch) *batch.Batch {
	out := batch.New(b.N, b.H, b.W, 1)
	for i := range out.Data {
		out.Data[i] = b.Data[3*i]
	}
	return out
}

// pairPaths pairs two files, or the images of two folders by name without extension.
func pairPaths(ref, img string) ([]Pair, error) {
	rs, err := os.Stat(ref)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	is, err := os.Stat(img)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	switch {
	case !rs.IsDir() && !is.IsDir():
		return []Pair{{Ref: ref, Img: img}}, nil
	case rs.IsDir() != is.IsDir():
		return nil, fmt.Errorf("compare %s with %s: give two image files or two folders", ref, img)
	}
	rm, err := imagesByStem(ref)
	if err != nil {
		return nil, err
	}
	im, err := imagesByStem(img)
	if err != nil {
		return nil, err
	}
	onlyRef, onlyImg := missingFrom(rm, im), missingFrom(im, rm)
	if len(onlyRef) > 0 || len(onlyImg) > 0 {
		var parts []string
		if len(onlyRef) > 0 {
			parts = append(parts, fmt.Sprintf("%d with no match in %s: %s", len(onlyRef), img, listSome(onlyRef)))
		}
		if len(onlyImg) > 0 {
			parts = append(parts, fmt.Sprintf("%d with no match in %s: %s", len(onlyImg), ref, listSome(onlyImg)))
		}
		return nil, fmt.Errorf("folders %s (%d images) and %s (%d images) do not pair by name: %s",
			ref, len(rm), img, len(im), strings.Join(parts, "; "))
	}
	stems := make([]string, 0, len(rm))
	for s := range rm {
		stems = append(stems, s)
	}
	sort.Strings(stems)
	pairs := make([]Pair, len(stems))
	for i, s := range stems {
		pairs[i] = Pair{Ref: rm[s], Img: im[s]}
	}
	return pairs, nil
}

// imagesByStem maps each image of dir (data.ListImages, not recursive) by its name without
// extension.
func imagesByStem(dir string) (map[string]string, error) {
	files, err := data.ListImages(dir, false)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("folder %s has no .png, .jpg, .jpeg, .tif or .tiff images", dir)
	}
	m := make(map[string]string, len(files))
	for _, f := range files {
		base := filepath.Base(f)
		stem := strings.TrimSuffix(base, filepath.Ext(base))
		if prev, dup := m[stem]; dup {
			return nil, fmt.Errorf("folder %s: %s and %s have the same name; keep one", dir, filepath.Base(prev), base)
		}
		m[stem] = f
	}
	return m, nil
}

// missingFrom returns the files of a whose name is not in b, sorted.
func missingFrom(a, b map[string]string) []string {
	var out []string
	for s, f := range a {
		if _, ok := b[s]; !ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// listSome joins up to five names and counts the rest.
func listSome(files []string) string {
	const show = 5
	if len(files) <= show {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:show], ", "), len(files)-show)
}
