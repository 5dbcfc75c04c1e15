package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestMeterThrottlesAndReportsETA(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	clock := time.Unix(0, 0)
	m := New(log, "training", "step", 100)
	m.now = func() time.Time { return clock }
	m.start, m.last = clock, clock

	clock = clock.Add(time.Second)
	m.Update(10) // within the interval: silent
	if buf.Len() != 0 {
		t.Fatalf("logged within interval: %s", buf.String())
	}
	clock = clock.Add(9 * time.Second) // 10 s in, 50 steps: 5 step/s, 50 left: 10 s
	m.Update(50, "loss", 0.5)
	line := buf.String()
	for _, want := range []string{"msg=training", "step=50", "of=100", `rate="5 step/s"`, "eta=10s", "loss=0.5"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	buf.Reset()
	m.Update(100) // completion always logs, without ETA
	if !strings.Contains(buf.String(), "step=100") || strings.Contains(buf.String(), "eta=") {
		t.Errorf("final line = %q", buf.String())
	}
}

// TestRateCountsThisProcessOnly: after a resume at step 100 of 300, 70 steps in 10 s are
// 7 step/s with 130 left, an ETA of 19 s (issue 15: the line said 17 step/s and 8 s, counting
// the 100 steps done before the resume).
func TestRateCountsThisProcessOnly(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	m := New(slog.New(slog.NewTextHandler(&buf, nil)), "training", "step", 300)
	m.now = func() time.Time { return clock }
	m.start, m.last = clock, clock
	m.Skip(100)
	clock = clock.Add(10 * time.Second)
	m.Update(170)
	for _, want := range []string{"step=170", "of=300", `rate="7 step/s"`, "eta=19s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("line %q lacks %q", buf.String(), want)
		}
	}
	// Units restored one by one (sample parts read back) do not count either.
	buf.Reset()
	m2 := New(slog.New(slog.NewTextHandler(&buf, nil)), "sampling", "batch", 10)
	m2.now = func() time.Time { return clock }
	m2.start, m2.last = clock, clock
	for k := 1; k <= 4; k++ {
		m2.Skip(1)
	}
	clock = clock.Add(6 * time.Second)
	m2.Update(7) // 3 drawn in 6 s: 0.5 batch/s, 3 left: 6 s
	if !strings.Contains(buf.String(), `rate="0.5 batch/s"`) || !strings.Contains(buf.String(), "eta=6s") {
		t.Errorf("line %q, want 0.5 batch/s and eta 6s", buf.String())
	}
}
