package train

import (
	"math"
	"testing"
)

// TestLRFactor checks the warm-up ramp and the cosine decay's end points and midpoint,
// computed by hand from the formula in lrFactor's doc.
func TestLRFactor(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		step, n int
		want    float64
	}{
		{"constant after warm-up", Config{Warmup: 10, Decay: "none"}, 500, 1000, 1},
		{"warm-up ramp", Config{Warmup: 10, Decay: "cosine", FinalLR: 0.1}, 4, 1000, 0.5},
		{"cosine starts at 1", Config{Warmup: 10, Decay: "cosine", FinalLR: 0.1}, 10, 1000, 1},
		{"cosine midpoint", Config{Warmup: 0, Decay: "cosine", FinalLR: 0.2}, 50, 101, 0.6},
		{"cosine ends at lr_final", Config{Warmup: 10, Decay: "cosine", FinalLR: 0.1}, 999, 1000, 0.1},
		{"one-step phase", Config{Warmup: 0, Decay: "cosine", FinalLR: 0.1}, 0, 1, 1},
	}
	for _, c := range cases {
		tr := &Trainer{cfg: c.cfg}
		if got := tr.lrFactor(c.step, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: lrFactor(%d, %d) = %v, want %v", c.name, c.step, c.n, got, c.want)
		}
	}
}
