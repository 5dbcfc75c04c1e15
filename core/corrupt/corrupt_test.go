package corrupt

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

var ctx = context.Background()

// cleanImages is a deterministic clean batch with values in [0, 1].
func cleanImages(n int) *batch.Batch {
	b := batch.New(n, 12, 10, 1)
	for i := range b.Data {
		b.Data[i] = float32(i%97) / 96
	}
	return b
}

// corruption decodes a pipeline corruption list and builds it.
func corruption(t *testing.T, src string) ([]registry.Spec, []part.Operator, part.NoiseModel) {
	t.Helper()
	var p struct {
		Corruption []registry.Spec `yaml:"corruption"`
	}
	if errs := schema.Unmarshal([]byte(src), &p); len(errs) > 0 {
		t.Fatal(errs)
	}
	ops, noise, err := operators.FromSpecs(ctx, p.Corruption)
	if err != nil {
		t.Fatal(err)
	}
	return p.Corruption, ops, noise
}

const mixed = `corruption:
  - op: blur.gaussian
    size: 5
    sigma: 1
  - op: op.mixture
    components:
      - ops: [mask.random]
      - ops: [{op: mask.box, size: 4}]
  - op: noise.poisson_gaussian
`

// writeRun corrupts 300 images (two chunks) with seed and writes a store into dir.
func writeRun(t *testing.T, dir string, seed int64) {
	t.Helper()
	specs, ops, noise := corruption(t, mixed)
	clean := cleanImages(300)
	obs, params, err := Corrupt(ctx, clean, ops, noise, seed)
	if err != nil {
		t.Fatal(err)
	}
	text, err := ResolvedYAML(specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, obs, params, clean, Manifest{Seed: seed, Corruption: text, Dataset: "test pattern"}); err != nil {
		t.Fatal(err)
	}
}

// hashTree returns the SHA-256 of every file under dir, by relative path.
func hashTree(t *testing.T, dir string) map[string][32]byte {
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(data)
		return nil
	})
	return out
}

// TestSameSeedSameBytes: two runs with one seed write identical stores, file for file; another
// seed changes the observations and the masks.
func TestSameSeedSameBytes(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	writeRun(t, a, 42)
	writeRun(t, b, 42)
	writeRun(t, c, 43)
	ha, hb, hc := hashTree(t, a), hashTree(t, b), hashTree(t, c)
	want := []string{"clean/clean.npy", "manifest.json", "manifest.json.sha256", "observations.npy", "params/1.0.0.mask.npy",
		"params/1.1.0.mask.npy", "params/1.choice.npy"}
	var got []string
	for k := range ha {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for k, h := range ha {
		if hb[k] != h {
			t.Errorf("%s differs between two runs with seed 42", k)
		}
	}
	for _, k := range []string{"observations.npy", "params/1.choice.npy", "params/1.0.0.mask.npy"} {
		if hc[k] == ha[k] {
			t.Errorf("%s is the same for seeds 42 and 43", k)
		}
	}
	if hc["clean/clean.npy"] != ha["clean/clean.npy"] {
		t.Error("clean images depend on the seed")
	}
}

// TestChunkingInvariance: corrupting all at once equals corrupting in ChunkSize chunks (the
// parameters are drawn for the whole batch, noise in element order).
func TestChunkingInvariance(t *testing.T) {
	_, ops, noise := corruption(t, mixed)
	clean := cleanImages(ChunkSize + 5)
	obs, params, err := Corrupt(ctx, clean, ops, noise, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Reference: one Apply and one Sample over the whole batch with the same streams.
	chain := operators.NewCompose(ops...)
	ax, err := chain.Apply(ctx, clean, params)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := noise.Sample(ctx, newRand(7, StreamNoise), ax)
	if !slices.Equal(obs.Data, y.Data) {
		t.Error("chunked corruption differs from corrupting the whole batch at once")
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 5)
	s, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, ops, noise := corruption(t, mixed)
	obs, params, _ := Corrupt(ctx, cleanImages(300), ops, noise, 5)
	if !slices.Equal(s.Observations.Data, obs.Data) || s.Observations.Shape != obs.Shape {
		t.Error("observations differ after the round trip")
	}
	if !slices.Equal(s.Params.Keys(), params.Keys()) {
		t.Fatalf("param keys %v, want %v", s.Params.Keys(), params.Keys())
	}
	for k, v := range params {
		if !slices.Equal(s.Params[k].Data, v.Data) || s.Params[k].Shape != v.Shape {
			t.Errorf("param %s differs after the round trip", k)
		}
	}
	if s.Manifest.Seed != 5 || !strings.Contains(s.Manifest.Corruption, "op: noise.poisson_gaussian") ||
		!strings.Contains(s.Manifest.Corruption, "gain: 0.01") || s.Manifest.Format != FormatVersion {
		t.Errorf("manifest %+v", s.Manifest)
	}
	clean, err := ReadClean(dir)
	if err != nil || !slices.Equal(clean.Data, cleanImages(300).Data) {
		t.Errorf("ReadClean: %v", err)
	}
	// A store without clean images.
	dir2 := t.TempDir()
	if err := Write(dir2, obs, nil, nil, Manifest{}); err != nil {
		t.Fatal(err)
	}
	if s, err := Read(dir2); err != nil || s.Params != nil {
		t.Errorf("Read without params: %v %v", s, err)
	}
	if _, err := ReadClean(dir2); err == nil || !strings.Contains(err.Error(), "holds no clean images") {
		t.Errorf("ReadClean without clean: %v", err)
	}
}

// TestReadErrors: damaged stores fail with the file named.
func TestReadErrors(t *testing.T) {
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"flipped byte", func(dir string) {
			p := filepath.Join(dir, "params", "1.choice.npy")
			data, _ := os.ReadFile(p)
			data[len(data)-1] ^= 1
			os.WriteFile(p, data, 0o644)
		}, "1.choice.npy: checksum mismatch"},
		{"truncated", func(dir string) {
			p := filepath.Join(dir, "observations.npy")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)-8], 0o644)
		}, "observations.npy: checksum mismatch"},
		{"missing file", func(dir string) { os.Remove(filepath.Join(dir, "params", "1.0.0.mask.npy")) }, "1.0.0.mask.npy"},
		{"no manifest", func(dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, "no manifest"},
		{"shape in manifest", editManifest(func(m *Manifest) { m.Observations.Shape[1] = 11 }), "observations.npy: shape [300 12 10 1], the manifest says [300 11 10 1]"},
		{"format", editManifest(func(m *Manifest) { m.Format = 99 }), "store format 99"},
		{"escape", editManifest(func(m *Manifest) { m.Observations.Path = "../x.npy" }), `path "../x.npy" leaves the store`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRun(t, dir, 1)
			c.damage(dir)
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// editManifest changes the manifest as a store of an older build without a manifest
// checksum, so that the checks after the checksum are reached.
func editManifest(f func(*Manifest)) func(dir string) {
	return func(dir string) {
		os.Remove(filepath.Join(dir, ManifestFile+".sha256"))
		p := filepath.Join(dir, ManifestFile)
		data, _ := os.ReadFile(p)
		var m Manifest
		json.Unmarshal(data, &m)
		f(&m)
		data, _ = json.Marshal(m)
		os.WriteFile(p, data, 0o644)
	}
}

func TestWriteErrors(t *testing.T) {
	obs := cleanImages(3)
	bad := part.Params{"../evil": batch.New(3, 1, 1, 1)}
	if err := Write(t.TempDir(), obs, bad, nil, Manifest{}); err == nil || !strings.Contains(err.Error(), "cannot be a file name") {
		t.Errorf("bad key: %v", err)
	}
	short := part.Params{"mask": batch.New(2, 1, 1, 1)}
	if err := Write(t.TempDir(), obs, short, nil, Manifest{}); err == nil || !strings.Contains(err.Error(), "must have 3 samples") {
		t.Errorf("short param: %v", err)
	}
	// A rewrite removes the stale manifest first and leaves a readable store.
	dir := t.TempDir()
	writeRun(t, dir, 1)
	if err := Write(dir, obs, nil, nil, Manifest{Seed: 9}); err != nil {
		t.Fatal(err)
	}
	if s, err := Read(dir); err != nil || s.Manifest.Seed != 9 || s.Observations.N != 3 {
		t.Errorf("rewritten store: %v, %v", s, err)
	}
}

func TestCorruptCancelled(t *testing.T) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, ops, noise := corruption(t, mixed)
	if _, _, err := Corrupt(c, cleanImages(10), ops, noise, 1); err == nil {
		t.Error("a cancelled context did not stop Corrupt")
	}
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}
