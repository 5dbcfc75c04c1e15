package train

import (
	"bytes"
	stdctx "context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// savedContext returns a context whose one variable holds w.
func savedContext(w []float32) *context.Context {
	ctx := context.New()
	ctx.InAbsPath("/m").VariableWithValue("w", w)
	return ctx
}

func weightsOf(t *testing.T, ck *Checkpoint) []float32 {
	t.Helper()
	v, ok := ck.Values["/m/w"]
	if !ok {
		t.Fatalf("checkpoint step %d lacks /m/w", ck.Step)
	}
	return v.Value().([]float32)
}

// twoCheckpoints writes step 10 (weights 1..) and step 20 (weights 2..) into a run folder.
func twoCheckpoints(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []struct {
		step int
		w    float32
	}{{10, 1}, {20, 2}} {
		w := make([]float32, 256)
		for i := range w {
			w[i] = s.w
		}
		if err := SaveCheckpoint(dir, savedContext(w), s.step, State{Step: s.step}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDamagedCheckpointFallsBack: a checkpoint damaged on disk (issue 15: it was trusted) is
// refused, and the newest good one is loaded with a warning that names the damaged one and
// why.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	newest := func(dir string) string { return filepath.Join(dir, checkpointDir, "step-0000020") }
	cases := []struct {
		name   string
		damage func(t *testing.T, ck string)
		why    string
	}{
		{"truncated variables", func(t *testing.T, ck string) { os.Truncate(filepath.Join(ck, "variables.bin"), 100) }, "variables.bin is damaged"},
		{"flipped byte in variables", func(t *testing.T, ck string) { flipByte(t, filepath.Join(ck, "variables.bin"), 517) }, "variables.bin is damaged"},
		{"flipped byte in index", func(t *testing.T, ck string) { flipByte(t, filepath.Join(ck, "index.json"), 20) }, "index.json is damaged"},
		{"missing index", func(t *testing.T, ck string) { os.Remove(filepath.Join(ck, "index.json")) }, "index.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := twoCheckpoints(t)
			c.damage(t, newest(dir))
			start := time.Now()
			ck, err := LoadLatest(dir)
			if err != nil {
				t.Fatalf("no fallback: %v", err)
			}
			t.Logf("fell back in %v", time.Since(start).Round(time.Microsecond))
			if ck.Step != 10 || weightsOf(t, ck)[0] != 1 {
				t.Errorf("loaded step %d with w[0] = %v, want the good step 10 (w 1)", ck.Step, weightsOf(t, ck)[0])
			}
			warn := strings.Join(ck.Warnings, "\n")
			for _, want := range []string{"checkpoint step-0000020 skipped: ", c.why, "falling back to step-0000010"} {
				if !strings.Contains(warn, want) {
					t.Errorf("warning lacks %q: %s", want, warn)
				}
			}
		})
	}
	t.Run("every checkpoint damaged", func(t *testing.T) {
		dir := twoCheckpoints(t)
		flipByte(t, filepath.Join(newest(dir), "variables.bin"), 3)
		flipByte(t, filepath.Join(dir, checkpointDir, "step-0000010", "variables.bin"), 3)
		_, err := LoadLatest(dir)
		if err == nil || errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), "step-0000010") ||
			!strings.Contains(err.Error(), "step-0000020") || !strings.Contains(err.Error(), "no intact checkpoint") {
			t.Errorf("err = %v, want one naming both damaged checkpoints", err)
		}
	})
}

// TestCheckpointWriteFailureKeepsPrevious: a checkpoint write that runs out of disk space
// fails with an error saying which step was not written, why, and which checkpoint is kept;
// the previous checkpoint stays the latest, intact, and no partial folder is left.
func TestCheckpointWriteFailureKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	w := make([]float32, 1024)
	for i := range w {
		w[i] = 1
	}
	if err := SaveCheckpoint(dir, savedContext(w), 10, State{Step: 10}); err != nil {
		t.Fatal(err)
	}
	remove := atomicfile.InjectFault(atomicfile.DiskFull(dir, 1000))
	start := time.Now()
	err := SaveCheckpoint(dir, savedContext(make([]float32, 1024)), 20, State{Step: 20})
	t.Logf("failed write reported in %v: %v", time.Since(start).Round(time.Microsecond), err)
	remove()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	for _, want := range []string{"checkpoint of step 20 not written", "no space left on device", "step-0000010 is kept"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	ck, err := LoadLatest(dir)
	if err != nil || ck.Step != 10 || weightsOf(t, ck)[0] != 1 {
		t.Fatalf("after the failed write: %v (step %v)", err, ck)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, checkpointDir))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") || e.Name() == "step-0000020" {
			t.Errorf("partial checkpoint left: %s", e.Name())
		}
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// TestResumeSkipsDamagedCheckpoint trains 6 steps (checkpoints after steps 3 and 6), flips a
// byte in the newest, and resumes: the trainer warns, goes back to the checkpoint of step 3,
// and redoes steps 4-6, so the curve equals the undamaged run's bit for bit.
func TestResumeSkipsDamagedCheckpoint(t *testing.T) {
	be := goBackend(t)
	ctx := stdctx.Background()
	prob := tinyProblem(t)
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	tr, err := New(ctx, be, tinyConfig(t, 6), prob, 11, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	whole := curve(t, dir)
	flipByte(t, filepath.Join(dir, checkpointDir, "step-0000006", "variables.bin"), 1001)

	var logs bytes.Buffer
	tr2, _ := New(ctx, be, tinyConfig(t, 6), prob, 11, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := tr2.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN msg=\"checkpoint step-0000006 skipped: ", "variables.bin is damaged", "falling back to step-0000003",
		"resuming from checkpoint\" checkpoint=step-0000003 phase=joint step=3 next_step=4"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if got := curve(t, dir); got != whole {
		t.Errorf("curve after falling back differs from the undamaged run:\n%s\n---\n%s", whole, got)
	}
}
