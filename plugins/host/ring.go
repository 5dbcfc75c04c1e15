package host

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// StderrLines is how many of a plugin's last stderr lines an error quotes.
const StderrLines = 20

// ring keeps the last n lines written to it (a plugin's stderr), safe for concurrent use.
type ring struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
	last    time.Time // of the last Write
}

func newRing(n int) *ring { return &ring{n: n} }

// Write implements io.Writer; lines end with '\n'. A line is capped at 1 KiB.
func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	data := append(r.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		r.add(string(data[:i]))
		data = data[i+1:]
	}
	if len(data) > 1024 {
		r.add(string(data[:1024]) + "...")
		data = nil
	}
	r.partial = append([]byte(nil), data...)
	return len(p), nil
}

// add keeps line, unless it is go-plugin's own debug or trace logging.
func (r *ring) add(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.HasPrefix(line, `{"@level":"debug"`) || strings.HasPrefix(line, `{"@level":"trace"`) {
		return
	}
	if len(line) > 1024 {
		line = line[:1024] + "..."
	}
	r.lines = append(r.lines, line)
	if len(r.lines) > r.n {
		r.lines = append(r.lines[:0], r.lines[len(r.lines)-r.n:]...)
	}
}

// Lines returns the kept lines, the unfinished last one included.
func (r *ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.lines...)
	if len(r.partial) > 0 {
		out = append(out, string(r.partial))
	}
	return out
}

// settle waits until nothing has been written for quiet, counting from the call or the last
// write, whichever is later, but at most max. A plugin's stderr reaches the host on streams of
// its own (go-plugin forwards os.Stderr over gRPC), so the lines a failing call wrote may
// arrive just after its answer; an error message quotes them after settle.
func (r *ring) settle(quiet, max time.Duration) {
	start := time.Now()
	for {
		r.mu.Lock()
		last := r.last
		r.mu.Unlock()
		since := time.Now()
		if last.After(start) {
			since = last
		} else {
			since = start
		}
		wait := quiet - time.Since(since)
		if wait <= 0 || time.Since(start) >= max {
			return
		}
		time.Sleep(min(wait, max-time.Since(start)))
	}
}
