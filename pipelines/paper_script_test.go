package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// interruptAtCheckpoint stands in for timeout(1) in scripts/paper-gpu.sh (PAPER_TIMEOUT): it
// runs the call and sends it SIGINT as soon as the run folder's latest training checkpoint
// changes, exiting 124 as timeout does, so that every experiment is split into several calls
// whatever the machine's speed.
const interruptAtCheckpoint = `#!/usr/bin/env bash
shift 5 # -s INT -k 60 LIMIT
dir=""; prev=""
for a in "$@"; do case "$prev" in --out|--resume) dir=$a ;; esac; prev=$a; done
ck() { cat "$dir/train/checkpoints/latest" 2>/dev/null; }
before=$(ck)
"$@" & pid=$!
while kill -0 $pid 2>/dev/null; do
	now=$(ck)
	if [ -n "$now" ] && [ "$now" != "$before" ]; then kill -INT $pid; wait $pid; exit 124; fi
	sleep 0.05
done
wait $pid
`

// TestPaperScriptToy runs scripts/paper-gpu.sh on the toy profile with the pure-Go backend:
// the offline build, each experiment split into calls (interrupted at every new checkpoint
// and continued with --resume), one suite folder, and the results page generated from it.
// Experiments whose data (../shared or $FLOWDIFF_SHARED) is absent are skipped by the script.
func TestPaperScriptToy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds flowdiff and runs the five experiments at toy size (about 30 s)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	tmp := t.TempDir()
	shim := filepath.Join(tmp, "interrupt")
	if err := os.WriteFile(shim, []byte(interruptAtCheckpoint), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "suite")
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "paper-gpu.sh"), "--profile", "toy", "--backend", "go", "--out", out, "--skip-missing-data")
	cmd.Env = append(os.Environ(), "PAPER_TIMEOUT="+shim)
	if shared := sharedDir(t); shared != "" {
		cmd.Env = append(cmd.Env, "FLOWDIFF_SHARED="+shared)
	}
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("paper-gpu.sh: %v\n%s", err, log)
	}
	calls, err := os.ReadFile(filepath.Join(out, "calls.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, e := range PaperExperiments {
		if strings.Contains(string(log), e.Name+": skipped") {
			continue
		}
		ran++
		var interrupted, finished int
		for _, line := range strings.Split(string(calls), "\n") {
			f := strings.Split(line, "\t")
			if len(f) == 4 && f[0] == e.Name {
				switch f[3] {
				case "124":
					interrupted++
				case "0":
					finished++
				}
			}
		}
		if interrupted == 0 || finished != 1 {
			t.Errorf("%s: %d interrupted calls and %d finished, want at least 1 and exactly 1 (calls.tsv:\n%s)", e.Name, interrupted, finished, calls)
		}
		m := readMetrics(t, filepath.Join(out, e.Name))
		for _, k := range []string{"psnr.input", "psnr.posterior_mean", "psnr.posterior_sample", "psnr.dps"} {
			if _, ok := m.Metrics[k]; !ok {
				t.Errorf("%s: metrics.json lacks %s", e.Name, k)
			}
		}
		if e.Name == "cifar-dog" {
			for _, k := range []string{"psnr.dps.denoise", "psnr.dps.deblur", "psnr.dps.deblur_denoise", "psnr.dps.inpaint"} {
				if _, ok := m.Metrics[k]; !ok {
					t.Errorf("cifar-dog: metrics.json lacks %s", k)
				}
			}
		}
	}
	if ran < 2 {
		t.Errorf("only %d experiments ran; the MNIST ones need no shared data", ran)
	}
	for _, want := range []string{"**Format check only**", "## Table 1: amortized inference", "## Table 2:", "## Table 4:", "## Is the learned prior clean?", "## Runs", "[prior.png](mnist/sample/prior.png)"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
}
