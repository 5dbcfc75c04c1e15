package pipelines

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestSampleJobResumes checks the sample stage's resumption: each batch is stored as a part
// as soon as it is drawn; a rerun after an interruption draws only the missing batches, and
// changed settings discard the old parts. Image k is filled with k, so the assembled result
// shows any misplaced batch.
func TestSampleJobResumes(t *testing.T) {
	dir := t.TempDir()
	var calls []int
	job := func(settings any) sampleJob {
		return sampleJob{name: "prior", dir: dir, settings: settings, n: 10, shape: batch.Shape{H: 2, W: 2, C: 1},
			draw: func(_ context.Context, from, to int) (*batch.Batch, error) {
				calls = append(calls, from)
				b := batch.New(to-from, 2, 2, 1)
				for k := range b.N {
					for i := range 4 {
						b.Data[k*4+i] = float32(from + k)
					}
				}
				return b, nil
			}}
	}
	log := slog.New(slog.DiscardHandler)
	check := func(b *batch.Batch) {
		t.Helper()
		for k := range b.N {
			if b.Data[k*4] != float32(k) {
				t.Fatalf("image %d holds %v", k, b.Data[k*4])
			}
		}
	}
	b, err := job(map[string]int{"steps": 5}).run(context.Background(), 4, log)
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	if len(calls) != 3 {
		t.Fatalf("first run drew batches %v, want 3", calls)
	}
	if _, err := os.Stat(filepath.Join(dir, "parts-prior")); err == nil {
		t.Error("parts left after completion")
	}
	// An interrupted run: batch 0 is drawn and stored, batch 4 fails.
	calls = nil
	failing := job(map[string]int{"steps": 5})
	draw := failing.draw
	failing.draw = func(ctx context.Context, from, to int) (*batch.Batch, error) {
		if from == 4 {
			return nil, context.Canceled
		}
		return draw(ctx, from, to)
	}
	if _, err := failing.run(context.Background(), 4, log); err == nil {
		t.Fatal("the interrupted run did not fail")
	}
	calls = nil
	// The rerun draws only batches 4 and 8.
	b, err = job(map[string]int{"steps": 5}).run(context.Background(), 4, log)
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	if len(calls) != 2 || calls[0] != 4 || calls[1] != 8 {
		t.Errorf("resumed run drew %v, want [4 8]", calls)
	}
	// New settings: every batch again.
	failing.draw = func(ctx context.Context, from, to int) (*batch.Batch, error) { return nil, context.Canceled }
	failing.run(context.Background(), 4, log) // leaves settings {steps 5}, no parts
	calls = nil
	if _, err := job(map[string]int{"steps": 6}).run(context.Background(), 4, log); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Errorf("changed settings drew %v, want all 3 batches", calls)
	}
}

// TestSampleJobDamagedPart: a stored part that changed on disk (one flipped byte) is not
// trusted on the rerun: it is drawn again, with a warning naming it. A final file that cannot
// be written (a full disk) fails with the cause and keeps the parts for the next try.
func TestSampleJobDamagedPart(t *testing.T) {
	dir := t.TempDir()
	var calls []int
	stop := true
	job := sampleJob{name: "dps", dir: dir, settings: map[string]int{"steps": 5}, n: 10, shape: batch.Shape{H: 2, W: 2, C: 1},
		draw: func(_ context.Context, from, to int) (*batch.Batch, error) {
			calls = append(calls, from)
			if from == 8 && stop {
				return nil, context.Canceled // the first run stops at its last batch
			}
			b := batch.New(to-from, 2, 2, 1)
			for k := range b.N {
				for i := range 4 {
					b.Data[k*4+i] = float32(from + k)
				}
			}
			return b, nil
		}}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := job.run(context.Background(), 4, log); err == nil {
		t.Fatal("the interrupted run did not fail")
	}
	part := filepath.Join(dir, "parts-dps", "000004.npy")
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 0x10 // the last image's last value: 7 becomes 7.0000x
	os.WriteFile(part, data, 0o644)

	calls, stop = nil, false
	b, err := job.run(context.Background(), 4, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != 4 || calls[1] != 8 {
		t.Errorf("rerun drew batches %v, want [4 8] (the damaged part and the missing one)", calls)
	}
	for k := range b.N {
		if b.Data[k*4+3] != float32(k) {
			t.Errorf("image %d holds %v", k, b.Data[k*4+3])
		}
	}
	if !strings.Contains(logs.String(), "000004.npy is damaged") {
		t.Errorf("no warning naming the damaged part:\n%s", logs.String())
	}
	if err := atomicfile.Verify(filepath.Join(dir, "dps.npy")); err != nil {
		t.Errorf("final file: %v", err)
	}

	// A full disk while writing the final file.
	os.Remove(filepath.Join(dir, "dps.npy"))
	os.Remove(filepath.Join(dir, "dps.npy"+atomicfile.SumSuffix))
	calls = nil
	job.settings = map[string]int{"steps": 6}
	remove := atomicfile.InjectFault(func(path string, w io.Writer) io.Writer {
		if filepath.Base(path) == "dps.npy" {
			return atomicfile.DiskFull(dir, 10)(path, w)
		}
		return w
	})
	_, err = job.run(context.Background(), 4, log)
	remove()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "dps.npy") {
		t.Errorf("err = %v, want ENOSPC naming dps.npy", err)
	}
	calls = nil
	if _, err := job.run(context.Background(), 4, log); err != nil || len(calls) != 0 {
		t.Errorf("after the full disk: err %v, drew %v again (want none: the parts were kept)", err, calls)
	}
}
