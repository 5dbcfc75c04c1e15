package observe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/formats"
)

// Input is one observation file and its relative name (see the package doc).
type Input struct {
	Path string // as found: the argument, or the argument joined with the path under it
	Rel  string // slash-separated name, unique within a list
}

// List expands args (files, folders walked recursively, glob patterns) into the image files
// they name, sorted by relative name. Hidden files and folders (names starting with ".") are
// skipped inside folders. It is an error when an argument names nothing, when a folder holds
// no image file, when a file argument's extension is not one core/formats reads, or when two
// inputs share a relative name.
func List(args []string) ([]Input, error) {
	if len(args) == 0 {
		return nil, errors.New("no input given: name files, folders or glob patterns")
	}
	var out []Input
	for _, arg := range args {
		got, err := expand(arg)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	slices.SortFunc(out, func(a, b Input) int { return strings.Compare(a.Rel, b.Rel) })
	for i := 1; i < len(out); i++ {
		if out[i].Rel == out[i-1].Rel {
			return nil, fmt.Errorf("two inputs are both named %q (%s and %s): outputs and references are matched by name, so rename one or list them in separate runs",
				out[i].Rel, out[i-1].Path, out[i].Path)
		}
	}
	return out, nil
}

// expand lists one argument.
func expand(arg string) ([]Input, error) {
	if strings.ContainsAny(arg, "*?[") {
		if _, err := os.Stat(arg); err != nil { // a name with brackets is a file first
			return expandGlob(arg)
		}
	}
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or folder", arg)
		}
		return nil, err
	}
	if st.IsDir() {
		return walk(arg)
	}
	if _, err := formats.FormatOf(arg); err != nil {
		return nil, err
	}
	return []Input{{Path: arg, Rel: filepath.Base(arg)}}, nil
}

func expandGlob(pattern string) ([]Input, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("glob pattern %q: %w", pattern, err)
	}
	var out []Input
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil || st.IsDir() || strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		if _, err := formats.FormatOf(m); err != nil {
			continue // a pattern such as dir/* may match other files too
		}
		out = append(out, Input{Path: m, Rel: filepath.Base(m)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("glob pattern %q matches no image file (%s)", pattern, extensionList)
	}
	return out, nil
}

// extensionList names the extensions core/formats reads, for messages.
const extensionList = ".png, .jpg, .jpeg, .tif, .tiff, .mrc, .mrcs or .npy"

// walk lists the image files under dir, named by their path under it.
func walk(dir string) ([]Input, error) {
	var out []Input
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if _, err := formats.FormatOf(path); err != nil {
			return nil // other files in a data folder (README, STAR metadata) are not inputs
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, Input{Path: path, Rel: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no image file (%s) in this folder or below", dir, extensionList)
	}
	return out, nil
}

// MatchReferences pairs each observation with the file of the same relative name among the
// references refs lists (see List). Every reference must have an observation, and every
// observation a reference: a partial set would score the restorations on a subset that the
// tables do not show. The error lists the names without a partner.
func MatchReferences(obs, refs []Input) (map[string]string, error) {
	byRel := make(map[string]string, len(refs))
	for _, r := range refs {
		byRel[r.Rel] = r.Path
	}
	out := make(map[string]string, len(obs))
	var missing []string
	for _, o := range obs {
		p, ok := byRel[o.Rel]
		if !ok {
			missing = append(missing, o.Rel)
			continue
		}
		out[o.Rel] = p
		delete(byRel, o.Rel)
	}
	var orphans []string
	for rel := range byRel {
		orphans = append(orphans, rel)
	}
	slices.Sort(orphans)
	switch {
	case len(orphans) > 0:
		return nil, fmt.Errorf("%d reference(s) with no observation of the same name: %s", len(orphans), short(orphans))
	case len(missing) > 0:
		return nil, fmt.Errorf("%d observation(s) with no reference of the same name: %s (give every observation a reference, or none)", len(missing), short(missing))
	}
	return out, nil
}

// short lists at most five names.
func short(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-5)
	}
	return strings.Join(names, ", ")
}
