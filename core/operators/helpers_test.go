package operators

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

var ctx = context.Background()

// randBatch returns a batch of uniform [0,1) values from a seeded stream.
func randBatch(seed uint64, s batch.Shape) *batch.Batch {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := batch.New(s.N, s.H, s.W, s.C)
	for i := range b.Data {
		b.Data[i] = rng.Float32()
	}
	return b
}

// maxRelDiff returns max|a-b| / max(max|b|, tiny).
func maxRelDiff(t *testing.T, a, b *batch.Batch) float64 {
	t.Helper()
	if a.Shape != b.Shape {
		t.Fatalf("shape %s vs %s", a.Shape, b.Shape)
	}
	d, m := 0.0, 1e-30
	for i := range a.Data {
		d = max(d, math.Abs(float64(a.Data[i])-float64(b.Data[i])))
		m = max(m, math.Abs(float64(b.Data[i])))
	}
	return d / m
}

var (
	backendOnce sync.Once
	goBackend   backends.Backend
)

// testBackend returns the process-wide "go" backend (SimpleGo).
func testBackend(t testing.TB) backends.Backend {
	backendOnce.Do(func() {
		b, err := backends.NewWithConfig("go")
		if err != nil {
			t.Fatalf("start go backend: %v", err)
		}
		goBackend = b
	})
	return goBackend
}

func batchShape(n, h, w, c int) batch.Shape { return batch.Shape{N: n, H: h, W: w, C: c} }
