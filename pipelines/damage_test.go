package pipelines

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// Files of a run changed on disk or not written for lack of space: what --resume, report and
// compare do with them (docs/reliability.md).

// TestResumeRecorruptsDamagedStore: a stored observation file changed on disk is not trusted
// on --resume: the run warns and corrupts the clean images again from the same seeds, which
// gives the same bytes, so the figures equal the first run's.
func TestResumeRecorruptsDamagedStore(t *testing.T) {
	p, _ := Parse("small.yaml", []byte(smallPipeline))
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	before := readMetrics(t, dir)
	obs := filepath.Join(dir, "corrupted", "test", "observations.npy")
	data, _ := os.ReadFile(obs)
	data[len(data)-3] ^= 0x40 // one pixel of the last image
	os.WriteFile(obs, data, 0o644)
	st, _ := loadState(filepath.Join(dir, StateFileName))
	delete(st.Stages, "evaluate")
	st.finish("corrupt", st.Stages["corrupt"].Seconds)

	if _, err := Execute(context.Background(), nil, Options{Out: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	if !strings.Contains(string(log), "observations.npy: checksum mismatch") || !strings.Contains(string(log), "corrupting the clean images again") {
		t.Errorf("run.log does not report the damaged store:\n%s", log)
	}
	if after := readMetrics(t, dir); after.Metrics["psnr.input"] != before.Metrics["psnr.input"] {
		t.Errorf("psnr.input %v after re-corrupting, want the first run's %v", after.Metrics["psnr.input"], before.Metrics["psnr.input"])
	}
}

// TestMetricsFileChecked: metrics.json carries a checksum file. A figure changed on disk is
// refused by --resume, compare and report with the file named; a write that runs out of disk
// space fails saying so and leaves the previous metrics.json.
func TestMetricsFileChecked(t *testing.T) {
	p, _ := Parse("small.yaml", []byte(smallPipeline))
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, MetricsFileName)
	good, _ := os.ReadFile(mf)

	// A failed write keeps the previous file.
	r, err := openRun(nil, Options{Out: dir, Resume: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.metrics.Set("psnr.extra", 1, 0, 1)
	remove := atomicfile.InjectFault(atomicfile.DiskFull(dir, 0))
	err = r.writeMetrics()
	remove()
	r.close()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), mf) {
		t.Errorf("write on a full disk: err = %v, want ENOSPC naming %s", err, mf)
	}
	if now, _ := os.ReadFile(mf); string(now) != string(good) {
		t.Error("metrics.json changed by a failed write")
	}

	// One changed digit is caught everywhere the file is read.
	m := readMetrics(t, dir)
	v := strconv.FormatFloat(m.Metrics["psnr.input"], 'f', -1, 64)
	i := strings.Index(string(good), v)
	if i < 0 {
		t.Fatalf("psnr.input %s not in metrics.json", v)
	}
	bad := []byte(string(good))
	if bad[i] = '1'; good[i] == '1' { // 13.98... becomes 23.98..., any other leading digit 1
		bad[i] = '2'
	}
	os.WriteFile(mf, bad, 0o644)
	golden := filepath.Join(t.TempDir(), "golden.json")
	os.WriteFile(golden, []byte(`{"metrics": {"psnr.input": {"value": 14, "tolerance": 1, "higher_is_better": true}}}`), 0o644)
	_, rerr := Execute(context.Background(), nil, Options{Out: dir, Resume: true})
	_, cerr := Compare(dir, golden)
	werr := WriteReport(context.Background(), dir, nil)
	for name, err := range map[string]error{"resume": rerr, "compare": cerr, "report": werr} {
		if err == nil || !strings.Contains(err.Error(), MetricsFileName+" is damaged") {
			t.Errorf("%s with a changed metrics.json: err = %v, want it reported damaged", name, err)
		}
	}
}

// tinySamplePipeline trains tiny models for a few steps and samples a few images: the
// machinery of train and sample in seconds, not a useful model.
const tinySamplePipeline = `version: 1
name: tiny
seed: 4
data: {source: mnist, train: 32, test: 4}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train:
  batch: 8
  steps: 4
  checkpoint_every: 2
  prior_warmup: 2
  warmup: 1
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
  diffusion: {steps: 20}
sample:
  prior: {n: 2, steps: 3}
  dps: {images: 2, steps: 3}
evaluate: {metrics: [metric.psnr]}
`

// TestResumeResamplesDamagedOutputs: a DPS restoration file changed on disk is not trusted on
// --resume: the run warns and samples again (the same images: each has its own noise stream),
// so the figures equal the first run's.
func TestResumeResamplesDamagedOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and samples tiny models (seconds)")
	}
	p, err := Parse("tiny.yaml", []byte(tinySamplePipeline))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	before := readMetrics(t, dir)
	dps := filepath.Join(dir, sampleDir, "dps.npy")
	data, _ := os.ReadFile(dps)
	data[len(data)-5] ^= 0x08
	os.WriteFile(dps, data, 0o644)
	st, _ := loadState(filepath.Join(dir, StateFileName))
	delete(st.Stages, "evaluate")
	st.finish("sample", st.Stages["sample"].Seconds)

	if _, err := Execute(context.Background(), nil, Options{Out: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	if !strings.Contains(string(log), "dps.npy is damaged") || !strings.Contains(string(log), "sampling again") {
		t.Errorf("run.log does not report the damaged restorations:\n%s", log)
	}
	if a, b := readMetrics(t, dir).Metrics["psnr.dps"], before.Metrics["psnr.dps"]; a != b {
		t.Errorf("psnr.dps %v after sampling again, want the first run's %v", a, b)
	}
}
