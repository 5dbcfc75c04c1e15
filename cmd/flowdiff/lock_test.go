package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// flowdiffBinary builds the command once per test binary and returns its path.
func flowdiffBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowdiff-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "flowdiff")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// longPipeline trains for far longer than the test lets it run.
const longPipeline = `version: 1
name: long
data: {source: mnist, train: 64, test: 8}
corruption:
  - op: noise.gaussian
    sigma: 0.2
train:
  batch: 8
  steps: 100000
  checkpoint_every: 10
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
`

// TestSecondResumeRefused runs two real processes on one run folder (issue 15: nothing
// stopped them). While `flowdiff run` trains, `flowdiff run --resume` on its folder must fail
// at once with a message naming the owner's pid and host; once the first is SIGKILLed, a
// resume takes its stale lock over with a warning naming it.
func TestSecondResumeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains for a few seconds")
	}
	bin := flowdiffBinary(t)
	tmp := t.TempDir()
	p := filepath.Join(tmp, "long.yaml")
	os.WriteFile(p, []byte(longPipeline), 0o644)
	dir := filepath.Join(tmp, "run")
	first := exec.Command(bin, "run", p, "--out", dir)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { first.Process.Kill(); first.Wait() }()
	waitFor(t, filepath.Join(dir, "run.log"), time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	second := exec.CommandContext(ctx, bin, "run", "--resume", dir)
	second.Stderr = &stderr
	start := time.Now()
	err := second.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("the second process was still running after %v; stderr:\n%s", took, stderr.String())
	}
	host, _ := os.Hostname()
	msg := stderr.String()
	if err == nil || second.ProcessState.ExitCode() != exitFailure {
		t.Errorf("second resume: %v (exit %d), want exit %d", err, second.ProcessState.ExitCode(), exitFailure)
	}
	for _, want := range []string{"is in use by", fmt.Sprintf("pid %d", first.Process.Pid), "host " + host} {
		if !strings.Contains(msg, want) {
			t.Errorf("second resume's error lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("second process refused in %v (process start included)", took.Round(time.Millisecond))

	// SIGKILL leaves the lock file behind; the next resume takes it over.
	first.Process.Kill()
	first.Wait()
	if _, err := os.Stat(filepath.Join(dir, "run.lock")); err != nil {
		t.Fatalf("a killed owner should leave its lock file: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var out2 bytes.Buffer
	third := exec.CommandContext(ctx2, bin, "run", "--resume", dir)
	third.Stderr = &out2
	if err := third.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel2(); third.Wait() }()
	started := time.Now()
	deadline := started.Add(time.Minute)
	want := fmt.Sprintf("pid %d", first.Process.Pid)
	for !strings.Contains(logOf(dir), "taking over the run folder") {
		if time.Now().After(deadline) {
			t.Fatalf("no take-over warning in run.log within a minute; stderr:\n%s", out2.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stale lock taken over, warning in run.log within %v (polled every 50 ms)", time.Since(started).Round(time.Millisecond))
	if l := logOf(dir); !strings.Contains(l, want) {
		t.Errorf("take-over warning does not name the dead owner (%s):\n%s", want, l)
	}
}

func logOf(dir string) string {
	data, _ := os.ReadFile(filepath.Join(dir, "run.log"))
	return string(data)
}

func waitFor(t *testing.T, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
