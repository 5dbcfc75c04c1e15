package train

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// failingOp is an operator on the injection path that fails on its failAt-th Apply call (0:
// never), counting its calls.
type failingOp struct {
	part.Operator
	calls  *atomic.Int64
	failAt int64
}

var errPlanted = errors.New("planted failure")

func (o failingOp) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	if n := o.calls.Add(1); n == o.failAt {
		return nil, errPlanted
	}
	return o.Operator.Apply(ctx, x, p)
}

// TestOneStepNumbering: the step an error names is the step that failed, numbered as
// losses.csv, the progress lines and the checkpoints number steps (docs/training.md, "Step
// numbers"): step k is the k-th step of its phase; its row in losses.csv says k; the
// checkpoint step-k holds the models after it. Issue 15: the error said "joint step 198" when
// losses.csv ended at 198 and the 199th step failed.
func TestOneStepNumbering(t *testing.T) {
	be := goBackend(t)
	ctx := context.Background()
	base := opProblem(t, gaussianBlur(t))
	op := operators.Opaque(base.Op)

	// Calls per step, measured on one step.
	var calls atomic.Int64
	prob := base
	prob.Op = failingOp{op, &calls, 0}
	one, err := New(ctx, be, tinyConfig(t, 1), prob, 5, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := one.Run(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	perStep := calls.Load()
	if perStep == 0 {
		t.Fatal("the operator is not on the injection path")
	}

	// Fail in the 5th step; checkpoints every 3 steps (tinyConfig), so step-0000003 exists.
	calls.Store(0)
	prob.Op = failingOp{op, &calls, 4*perStep + 1}
	var logs bytes.Buffer
	tr, err := New(ctx, be, tinyConfig(t, 6), prob, 5, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tr.progressEvery = time.Nanosecond // a progress line after every step
	dir := t.TempDir()
	err = tr.Run(ctx, dir)
	if !errors.Is(err, errPlanted) || !strings.Contains(err.Error(), "joint step 5:") {
		t.Fatalf("err = %v, want the planted failure in joint step 5", err)
	}
	f, _ := os.Open(filepath.Join(dir, CurveFile))
	rows, _ := csv.NewReader(f).ReadAll()
	f.Close()
	if last := rows[len(rows)-1]; last[0] != "joint" || last[1] != "4" {
		t.Errorf("losses.csv ends with %v, want joint step 4 (the last finished)", last)
	}
	if !strings.Contains(logs.String(), "msg=\"training joint\" step=4 of=6") || strings.Contains(logs.String(), "step=5 of=6") {
		t.Errorf("progress lines do not end at step 4:\n%s", logs.String())
	}
	ck, err := LoadLatest(dir)
	if err != nil || ck.Name != fmt.Sprintf("step-%07d", 3) || ck.Step != 3 {
		t.Errorf("latest checkpoint %v (%v), want step-0000003 holding step 3", ck.Name, err)
	}
}

// TestPartIDsInLogsAndErrors: run.log lines and errors name the parts by their registry IDs
// (issue 15: `operator=*operators.Compose noise=*host.NoiseWithMoments`).
func TestPartIDsInLogsAndErrors(t *testing.T) {
	be := goBackend(t)
	ctx := context.Background()
	prob := opProblem(t, gaussianBlur(t))
	var calls atomic.Int64
	prob.Op = failingOp{operators.Opaque(prob.Op), &calls, 1}
	prob.Noise = operators.OpaqueNoise(prob.Noise)
	prob.OpID, prob.NoiseID = "blur.gaussian", "noise.gaussian"
	var logs bytes.Buffer
	tr, err := New(ctx, be, tinyConfig(t, 2), prob, 5, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "operator=blur.gaussian noise=noise.gaussian") || strings.Contains(logs.String(), "*operators") {
		t.Errorf("log names Go types, not part IDs:\n%s", logs.String())
	}
	err = tr.Run(ctx, t.TempDir())
	if !errors.Is(err, errPlanted) || !strings.Contains(err.Error(), "joint step 1: forward operator blur.gaussian: planted failure") {
		t.Errorf("err = %v, want it to name the operator's ID", err)
	}
}
