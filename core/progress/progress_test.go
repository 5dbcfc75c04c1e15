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
