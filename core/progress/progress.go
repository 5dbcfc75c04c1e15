// Package progress reports long work through the injected logger: done/total, rate and ETA,
// at most once per interval so logs stay readable. The rate and the ETA count only the work
// this process did: units restored from disk (a resumed run's finished steps, sample batches
// read back) are marked with Skip and count towards done, not towards the rate.
package progress

import (
	"log/slog"
	"time"
)

// DefaultInterval is the shortest time between two progress lines.
const DefaultInterval = 5 * time.Second

// Meter tracks one unit of long work.
type Meter struct {
	log      *slog.Logger
	what     string
	unit     string
	total    int
	skipped  int // units done without work in this process (Skip)
	start    time.Time
	last     time.Time
	interval time.Duration
	now      func() time.Time
}

// New starts a meter for total units (e.g. "step", "image") of the named work.
func New(log *slog.Logger, what, unit string, total int) *Meter {
	m := &Meter{log: log, what: what, unit: unit, total: total, interval: DefaultInterval, now: time.Now}
	m.start = m.now()
	m.last = m.start
	return m
}

// Every sets the shortest time between two progress lines (DefaultInterval unless set) and
// returns m.
func (m *Meter) Every(d time.Duration) *Meter {
	m.interval = d
	return m
}

// Skip records that n more units were done without work in this process (restored from
// disk): they count towards done but not towards the rate.
func (m *Meter) Skip(n int) { m.skipped += n }

// Update records that done units are finished and logs a line if the interval has passed or
// the work is complete. Extra attributes (loss terms, ...) are appended.
func (m *Meter) Update(done int, attrs ...any) {
	t := m.now()
	if done < m.total && t.Sub(m.last) < m.interval {
		return
	}
	m.last = t
	elapsed := t.Sub(m.start).Seconds()
	rate := 0.0
	if worked := done - m.skipped; elapsed > 0 && worked > 0 {
		rate = float64(worked) / elapsed
	}
	args := []any{m.unit, done, "of", m.total, "rate", Rate(rate, m.unit)}
	if done < m.total && rate > 0 {
		args = append(args, "eta", time.Duration(float64(m.total-done)/rate*float64(time.Second)).Round(time.Second))
	}
	args = append(args, attrs...)
	m.log.Info(m.what, args...)
}

// Elapsed returns the time since the meter started.
func (m *Meter) Elapsed() time.Duration { return m.now().Sub(m.start) }

// Rate formats a rate such as "12.3 step/s".
func Rate(r float64, unit string) string {
	switch {
	case r >= 100:
		return slog.Float64Value(float64(int(r+0.5))).String() + " " + unit + "/s"
	case r >= 1:
		return slog.Float64Value(float64(int(r*10+0.5))/10).String() + " " + unit + "/s"
	default:
		return slog.Float64Value(float64(int(r*1000+0.5))/1000).String() + " " + unit + "/s"
	}
}
