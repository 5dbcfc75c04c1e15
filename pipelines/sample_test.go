package pipelines

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

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
