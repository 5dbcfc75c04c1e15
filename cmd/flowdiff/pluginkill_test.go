package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/pipelines"
)

// killWait bounds every wait of the plugin-kill test: for the first checkpoint, for the run
// to fail once its plugin is dead. Generous for a loaded 2-core machine; the test logs the
// actual figures.
const killWait = 3 * time.Minute

// TestPluginKilledMidRun SIGKILLs the microscopy plugin's process while `flowdiff run` trains
// with it. The run must fail, within a bounded time, with an error naming the plugin, quoting
// its last stderr lines (the SDK's start-up line, with the killed pid) and saying how to
// continue; the finished stages and the checkpoint stay intact; and `flowdiff run --resume`
// then completes the run with a fresh plugin process, every step listed once.
func TestPluginKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds, twice")
	}
	if runtime.GOOS != "linux" {
		t.Skip("finds the plugin's process through /proc")
	}
	micro := plugintest.Folder(t, "micro")
	const steps = 40
	p := pluginPipeline(t, []string{micro}, `corruption:
  - op: micro.widefield
    psf: gaussian
    sigma_px: 1.0
    radius: 3
  - op: micro.poisson_gaussian
    photons: 300
evaluate: {metrics: [metric.psnr]}
`, steps)
	dir := filepath.Join(t.TempDir(), "run")

	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	logs := t.TempDir()
	go func() {
		stdout, _ := os.Create(filepath.Join(logs, "stdout"))
		stderr, _ := os.Create(filepath.Join(logs, "stderr"))
		code := run(context.Background(), []string{"flowdiff", "run", p, "--out", dir}, stdout, stderr)
		stdout.Close()
		stderr.Close()
		o, _ := os.ReadFile(filepath.Join(logs, "stdout"))
		e, _ := os.ReadFile(filepath.Join(logs, "stderr"))
		done <- result{code, string(o), string(e)}
	}()

	// Wait for the first checkpoint, then kill the plugin's process: the run is mid-training.
	latest := filepath.Join(dir, "train", "checkpoints", "latest")
	deadline := time.Now().Add(killWait)
	for {
		if _, err := os.Stat(latest); err == nil {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the run ended before its first checkpoint: code %d\n%s", r.code, r.errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint within %s", killWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bin := filepath.Join(micro, "micro")
	pids := processesOf(t, bin)
	if len(pids) != 1 {
		t.Fatalf("want exactly one process running %s, found %v", bin, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	var r result
	select {
	case r = <-done:
	case <-time.After(killWait):
		t.Fatalf("the run did not stop within %s of its plugin's death", killWait)
	}
	t.Logf("the run failed %s after the kill:\n%s", time.Since(killed).Round(time.Millisecond), lastLines(r.errOut, 12))
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil && stageDone(t, dir, "train") {
		t.Skip("training finished before the plugin could be killed; nothing to resume")
	}
	if r.code != exitFailure {
		t.Fatalf("run with a killed plugin: code %d, want %d\n%s", r.code, exitFailure, r.errOut)
	}
	for _, want := range []string{
		"plugin micro (" + filepath.Join(filepath.Dir(p), "plugins", "micro") + ")",
		"the plugin process exited or closed the connection",
		"stderr line(s) of the plugin",
		"plugin micro 1.0.0: serving 2 part(s), pid " + strconv.Itoa(pids[0]),
		"once plugin micro works again",
		"flowdiff run --resume " + dir,
	} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.errOut)
		}
	}
	// What was finished is intact: the earlier stages, and a checkpoint that loads.
	for _, s := range []string{"data", "corrupt"} {
		if !stageDone(t, dir, s) {
			t.Errorf("stage %s is not recorded as finished after the plugin died", s)
		}
	}
	if _, err := train.LoadLatest(filepath.Join(dir, "train")); err != nil {
		t.Errorf("the checkpoint does not load after the plugin died: %v", err)
	}

	// Nothing changed in the plugin: --resume starts a fresh process and finishes the run.
	code, _, errOut := runCLI(t, "run", "--resume", dir)
	if code != exitOK {
		t.Fatalf("resume: code %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "resuming from checkpoint") {
		t.Errorf("resume did not start from the checkpoint:\n%s", errOut)
	}
	m := readMetrics(t, dir)
	if _, ok := m.Metrics["psnr.posterior_mean"]; !ok {
		t.Errorf("metrics.json lacks psnr.posterior_mean after resume: %v", m.Metrics)
	}
	if rows := finiteCurve(t, dir); rows["joint"] != steps {
		t.Errorf("losses.csv has %d joint rows after kill and resume, want exactly %d", rows["joint"], steps)
	}
}

// processesOf returns the ids of the processes whose executable is bin (Linux /proc).
func processesOf(t *testing.T, bin string) []int {
	t.Helper()
	want, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stageDone reports whether the run folder's state.json records stage as finished.
func stageDone(t *testing.T, dir, stage string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, pipelines.StateFileName))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Stages map[string]struct{ Done bool }
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s.Stages[stage].Done
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
