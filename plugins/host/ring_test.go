package host

import (
	"slices"
	"testing"
	"time"
)

// TestRingSettle: a line written shortly after an error is noticed (as go-plugin's stderr
// stream delivers it) is among the lines read after settle; the ring keeps the last n complete lines and the unfinished one.
func TestRingSettle(t *testing.T) {
	r := newRing(3)
	r.Write([]byte("one\ntwo\n"))
	done := make(chan struct{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		r.Write([]byte("late line\n"))
		close(done)
	}()
	r.settle(500*time.Millisecond, 5*time.Second)
	<-done
	if got := r.Lines(); !slices.Contains(got, "late line") {
		t.Errorf("lines after settle = %q, want the late line", got)
	}
	r.Write([]byte("four\nfive"))
	if got, want := r.Lines(), []string{"two", "late line", "four", "five"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q (the last 3 complete lines, then the unfinished one)", got, want)
	}
}
