package corrupt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// FormatVersion is the store format this build writes and reads.
const FormatVersion = 1

// File names inside a store.
const (
	ManifestFile     = "manifest.json"
	ObservationsFile = "observations.npy"
	ParamsDir        = "params"
	CleanFile        = "clean/clean.npy"
)

// DType is the NumPy dtype of every stored array.
const DType = "<f4"

// File describes one stored array.
type File struct {
	Path   string `json:"path"` // relative to the store, slash-separated
	Shape  []int  `json:"shape"`
	DType  string `json:"dtype"`
	SHA256 string `json:"sha256"` // hex digest of the whole .npy file
}

// Manifest is the content of manifest.json. Write fills Format and the File entries; the
// caller gives Seed, Corruption and Dataset.
type Manifest struct {
	Format int   `json:"format"`
	Seed   int64 `json:"seed"`
	// Corruption is the corruption list as resolved YAML (see ResolvedYAML).
	Corruption string `json:"corruption"`
	// Dataset says where the clean images came from (free text, optional).
	Dataset      string          `json:"dataset,omitempty"`
	Observations File            `json:"observations"`
	Params       map[string]File `json:"params,omitempty"`
	Clean        *File           `json:"clean,omitempty"`
}

// Set is a store as Read returns it: the observations and their per-sample parameters, without
// the clean images.
type Set struct {
	Manifest     Manifest
	Observations *batch.Batch
	Params       part.Params
}

var paramKey = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// Write stores obs, its per-sample params and (when not nil) the clean images in dir, with
// meta's seed, corruption text and dataset description. See the package documentation for the
// layout and the atomicity rules.
func Write(dir string, obs *batch.Batch, params part.Params, clean *batch.Batch, meta Manifest) error {
	for _, k := range params.Keys() {
		v := params[k]
		if !paramKey.MatchString(k) {
			return fmt.Errorf("corrupted set %s: parameter name %q cannot be a file name", dir, k)
		}
		if v == nil || v.N != obs.N {
			return fmt.Errorf("corrupted set %s: parameter %q must have %d samples", dir, k, obs.N)
		}
	}
	if clean != nil && clean.N != obs.N {
		return fmt.Errorf("corrupted set %s: %d clean images for %d observations", dir, clean.N, obs.N)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("corrupted set: %w", err)
	}
	// Stage every array in a temporary folder inside dir first: a failure there (a full disk)
	// leaves the previous store as it was.
	stage, err := os.MkdirTemp(dir, ".tmp-write-")
	if err != nil {
		return fmt.Errorf("corrupted set: %w", err)
	}
	defer os.RemoveAll(stage)
	m := meta
	m.Format = FormatVersion
	m.Params, m.Clean = nil, nil
	files := []string{ObservationsFile}
	if m.Observations, err = writeArray(stage, ObservationsFile, obs); err == nil {
		for _, k := range params.Keys() {
			var f File
			if f, err = writeArray(stage, path.Join(ParamsDir, k+".npy"), params[k]); err != nil {
				break
			}
			if m.Params == nil {
				m.Params = map[string]File{}
			}
			m.Params[k] = f
			files = append(files, f.Path)
		}
	}
	if err == nil && clean != nil {
		var f File
		if f, err = writeArray(stage, CleanFile, clean); err == nil {
			m.Clean = &f
			files = append(files, f.Path)
		}
	}
	if err != nil {
		kept := "no previous store"
		if _, serr := os.Stat(filepath.Join(dir, ManifestFile)); serr == nil {
			kept = "the previous store is kept"
		}
		return fmt.Errorf("corrupted set %s not written (%s): %w", dir, kept, err)
	}
	// Swap the files in: without a manifest the store reads as unfinished until the new one
	// is written, so a crash in between never mixes old and new arrays.
	manifest := filepath.Join(dir, ManifestFile)
	for _, p := range []string{manifest, manifest + atomicfile.SumSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("corrupted set %s: remove the old manifest: %w", dir, err)
		}
	}
	os.RemoveAll(filepath.Join(dir, ParamsDir)) // parameters of the old store that the new lacks
	for _, rel := range files {
		to := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return fmt.Errorf("corrupted set %s: %w", dir, err)
		}
		if err := os.Rename(filepath.Join(stage, filepath.FromSlash(rel)), to); err != nil {
			return fmt.Errorf("corrupted set %s: %w", dir, err)
		}
	}
	err = atomicfile.WriteSummed(manifest, 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // keep dtype "<f4" readable
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
	if err != nil {
		return fmt.Errorf("corrupted set %s: the arrays are written but not the manifest, so the store reads as unfinished: %w", dir, err)
	}
	return nil
}

// writeArray writes b as dir/rel and returns its manifest entry.
func writeArray(dir, rel string, b *batch.Batch) (File, error) {
	h := sha256.New()
	err := atomicfile.Write(filepath.Join(dir, filepath.FromSlash(rel)), 0o644, func(w io.Writer) error {
		return npy.Write(io.MultiWriter(w, h), b.Dims(), b.Data)
	})
	if err != nil {
		return File{}, fmt.Errorf("corrupted set: %w", err)
	}
	return File{Path: rel, Shape: b.Dims(), DType: DType, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ReadManifest reads and checks dir's manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s: no manifest: not a corrupted set, or one whose writing did not finish", p)
	}
	data, err := atomicfile.ReadVerified(p, true) // stores of older builds have no manifest checksum
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", p, err)
	}
	if m.Format != FormatVersion {
		return Manifest{}, fmt.Errorf("%s: store format %d, this build reads format %d", p, m.Format, FormatVersion)
	}
	return m, nil
}

// Read loads and verifies the observations and parameters of the store in dir: every file's
// SHA-256 and shape must match the manifest, and every array must have the observations'
// number of samples. Errors name the file.
func Read(dir string) (*Set, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	obs, err := readArray(dir, m.Observations)
	if err != nil {
		return nil, err
	}
	s := &Set{Manifest: m, Observations: obs}
	for _, k := range slices.Sorted(maps.Keys(m.Params)) {
		b, err := readArray(dir, m.Params[k])
		if err != nil {
			return nil, err
		}
		if b.N != obs.N {
			return nil, fmt.Errorf("%s: %d samples, the observations have %d", filepath.Join(dir, m.Params[k].Path), b.N, obs.N)
		}
		if s.Params == nil {
			s.Params = part.Params{}
		}
		s.Params[k] = b
	}
	return s, nil
}

// ReadClean loads and verifies the clean images of the store in dir (for evaluation only).
func ReadClean(dir string) (*batch.Batch, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.Clean == nil {
		return nil, fmt.Errorf("%s: the store holds no clean images", filepath.Join(dir, ManifestFile))
	}
	return readArray(dir, *m.Clean)
}

// readArray reads and verifies one array of the manifest.
func readArray(dir string, f File) (*batch.Batch, error) {
	if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
		return nil, fmt.Errorf("%s: path %q leaves the store", filepath.Join(dir, ManifestFile), f.Path)
	}
	p := filepath.Join(dir, filepath.FromSlash(f.Path))
	if f.DType != DType || len(f.Shape) != 4 {
		return nil, fmt.Errorf("%s: manifest says dtype %q shape %v; the store holds %s [N,H,W,C] arrays", p, f.DType, f.Shape, DType)
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	h := sha256.New()
	a, err := npy.Read(io.TeeReader(fh, h))
	if err != nil {
		if sum := drainSum(fh, h); sum != f.SHA256 {
			return nil, fmt.Errorf("%s: checksum mismatch (the file changed after it was written): %w", p, err)
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return nil, fmt.Errorf("%s: checksum mismatch: the manifest says sha256 %s, the file has %s (the file changed after it was written)", p, f.SHA256, sum)
	}
	if !slices.Equal(a.Shape, f.Shape) {
		return nil, fmt.Errorf("%s: shape %v, the manifest says %v", p, a.Shape, f.Shape)
	}
	s := batch.Shape{N: a.Shape[0], H: a.Shape[1], W: a.Shape[2], C: a.Shape[3]}
	b, err := batch.FromData(s, a.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return b, nil
}

// drainSum hashes the rest of r into h and returns the hex digest.
func drainSum(r io.Reader, h hash.Hash) string {
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}
