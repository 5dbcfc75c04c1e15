package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

const restorePipeline = `version: 1
name: shards
seed: 2
data:
  source: observations
  path: %s
  size: 16
  patches: 2
  train: 16
  test: 4
corruption:
  - op: noise.gaussian
    sigma: 0.1
train:
  batch: 4
  steps: 3
  warmup: 1
  prior_warmup: 1
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
`

// writeNoisy writes n uint16 TIFFs of w x h noise around mid-range into dir.
func writeNoisy(t *testing.T, dir string, n, w, h int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	os.MkdirAll(dir, 0o755)
	for i := range n {
		img := &formats.Image{W: w, H: h, C: 1, N: 1, SourceType: dtype.Uint16, Data: make([]float32, w*h)}
		for k := range img.Data {
			img.Data[k] = float32(65535 * (0.5 + 0.1*rng.NormFloat64()))
		}
		if _, err := formats.Write(filepath.Join(dir, fmt.Sprintf("f%02d.tif", i)), img); err != nil {
			t.Fatal(err)
		}
	}
}

// sameRestore compares two output folders: the same files, images byte for byte, sidecars
// equal but for their timing fields.
func sameRestore(t *testing.T, want, got string) {
	t.Helper()
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				out[rel], _ = os.ReadFile(p)
			}
			return err
		})
		return out
	}
	a, b := list(want), list(got)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%s holds %d files, %s %d", want, len(a), got, len(b))
	}
	for rel, x := range a {
		y, ok := b[rel]
		switch {
		case !ok:
			t.Errorf("%s: missing from %s", rel, got)
		case strings.HasSuffix(rel, ".json"):
			var mx, my map[string]any
			json.Unmarshal(x, &mx)
			json.Unmarshal(y, &my)
			for _, k := range []string{"seconds", "finished"} {
				delete(mx, k)
				delete(my, k)
			}
			if !reflect.DeepEqual(mx, my) {
				t.Errorf("%s: sidecars differ beyond timing", rel)
			}
		case !bytes.Equal(x, y):
			t.Errorf("%s: the bytes differ", rel)
		}
	}
}

// TestRestoreShardsAsProcesses trains a tiny run with the built binary, restores 12 files in
// one process, then as 3 shards in 3 processes at once into one folder, and checks the union
// equals the single run byte for byte (each output written by exactly one shard: the counts
// add up to 12). Then it kills a restore (SIGKILL) once its first file is done, runs it again,
// and checks the result equals the uninterrupted one.
func TestRestoreShardsAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it several times")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "flowdiff")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	in := filepath.Join(tmp, "in")
	writeNoisy(t, in, 12, 40, 40)
	p := filepath.Join(tmp, "p.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(restorePipeline, in)), 0o644)
	run := filepath.Join(tmp, "run")
	if out, err := exec.Command(bin, "run", p, "--out", run).CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	restore := func(out string, extra ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"restore", run, in, "--out", out, "--draws", "4"}, extra...)...)
	}
	all := filepath.Join(tmp, "all")
	if out, err := restore(all).CombinedOutput(); err != nil || !strings.Contains(string(out), "restored 12, skipped 0") {
		t.Fatalf("single restore: %v\n%s", err, out)
	}

	sharded := filepath.Join(tmp, "sharded")
	var wg sync.WaitGroup
	outs := make([][]byte, 3)
	errs := make([]error, 3)
	for k := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[k], errs[k] = restore(sharded, "--shard", fmt.Sprintf("%d/3", k)).CombinedOutput()
		}()
	}
	wg.Wait()
	total := 0
	count := regexp.MustCompile(`restored (\d+), skipped 0 \(done before\), failed 0 of (\d+) files`)
	for k := range 3 {
		m := count.FindSubmatch(outs[k])
		if errs[k] != nil || m == nil || string(m[1]) != string(m[2]) {
			t.Fatalf("shard %d/3: %v\n%s", k, errs[k], outs[k])
		}
		n, _ := strconv.Atoi(string(m[1]))
		total += n
	}
	if total != 12 {
		t.Errorf("the shards restored %d files in all, want 12", total)
	}
	sameRestore(t, all, sharded)

	// The kill: 48 draws per file make each file take about a second, so that the kill comes
	// in the middle; the uninterrupted restore with the same settings is the reference.
	slow := filepath.Join(tmp, "slow")
	if out, err := restore(slow, "--draws", "48").CombinedOutput(); err != nil {
		t.Fatalf("slow restore: %v\n%s", err, out)
	}
	killed := filepath.Join(tmp, "killed")
	cmd := restore(killed, "--draws", "48")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(killed, "*.json")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no file restored within 2 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	out, err := restore(killed, "--draws", "48").CombinedOutput()
	if err != nil {
		t.Fatalf("rerun after kill: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`restored (\d+), skipped (\d+)`).FindSubmatch(out)
	if m == nil || string(m[2]) == "0" || string(m[1]) == "0" {
		t.Errorf("rerun after kill: %s; want some files skipped (done before the kill) and some restored", out)
	}
	sameRestore(t, slow, killed)
}
