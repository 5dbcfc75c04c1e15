package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const killPipeline = `version: 1
name: kill
seed: 4
data: {source: mnist, train: 64, test: 8}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train:
  batch: 8
  steps: 40
  checkpoint_every: 10
  prior_warmup: 10
  warmup: 5
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
evaluate: {metrics: [metric.psnr]}
report: {grid: 4}
`

// TestKillAndResume kills a real `flowdiff run` process (SIGKILL, no chance to clean up) once
// training has written a checkpoint, then continues it with `flowdiff run --resume` and checks
// the run completes with its figures: no finished work is lost and nothing torn is read back.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains for a few seconds")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "flowdiff")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := filepath.Join(tmp, "kill.yaml")
	os.WriteFile(p, []byte(killPipeline), 0o644)
	dir := filepath.Join(tmp, "run")

	cmd := exec.Command(bin, "run", p, "--out", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(dir, "train", "checkpoints", "latest")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(latest); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint within 3 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "metrics.json")); err == nil {
		data, _ := os.ReadFile(filepath.Join(dir, "state.json"))
		if strings.Contains(string(data), `"train"`) {
			t.Skip("the run finished training before it could be killed; nothing to resume")
		}
	}

	out, err := exec.Command(bin, "run", "--resume", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("resume failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "resuming from checkpoint") {
		t.Errorf("resume did not start from the checkpoint:\n%s", out)
	}
	var m struct{ Metrics map[string]float64 }
	data, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &m)
	for _, k := range []string{"psnr.input", "psnr.posterior_mean"} {
		if _, ok := m.Metrics[k]; !ok {
			t.Errorf("metrics.json lacks %s after resume: %v", k, m.Metrics)
		}
	}
	curve, _ := os.ReadFile(filepath.Join(dir, "train", "losses.csv"))
	if rows := strings.Count(string(curve), "\njoint,"); rows != 40 {
		t.Errorf("losses.csv has %d joint rows after kill and resume, want exactly 40", rows)
	}
}
