package source

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemaining(t *testing.T) {
	br := bytes.NewReader([]byte("0123456789"))
	br.Read(make([]byte, 3))
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	f, _ := os.Open(p)
	defer f.Close()
	f.Read(make([]byte, 4))
	cases := []struct {
		name         string
		r            io.Reader
		n            int64
		exact, known bool
	}{
		{"bytes.Reader after 3", br, 7, true, true},
		{"file after 4", f, 6, true, true},
		{"limited", io.LimitReader(strings.NewReader("abc"), 100), 100, false, true},
		{"multi", io.MultiReader(strings.NewReader("abc")), 0, false, false},
	}
	for _, c := range cases {
		n, exact, known := Remaining(c.r)
		if n != c.n || exact != c.exact || known != c.known {
			t.Errorf("%s: %d %v %v, want %d %v %v", c.name, n, exact, known, c.n, c.exact, c.known)
		}
	}
}

func TestReaderAt(t *testing.T) {
	ra, n, err := ReaderAt(io.MultiReader(strings.NewReader("hello")), 10)
	if err != nil || n != 5 {
		t.Fatalf("%d, %v", n, err)
	}
	b := make([]byte, 3)
	if k, err := ra.ReadAt(b, 2); k != 3 || err != nil || string(b) != "llo" {
		t.Errorf("ReadAt(2) = %d %v %q", k, err, b)
	}
	if k, err := ra.ReadAt(b, 4); k != 1 || err != io.EOF {
		t.Errorf("ReadAt(4) = %d %v, want 1 EOF", k, err)
	}
	if _, _, err := ReaderAt(io.MultiReader(strings.NewReader("hello")), 4); err == nil || !strings.Contains(err.Error(), "4-byte limit") {
		t.Errorf("over the limit: %v", err)
	}
	if _, n, _ := ReaderAt(bytes.NewReader([]byte("abcdef")), 1); n != 6 {
		t.Errorf("bytes.Reader size %d, want 6 (no copy, no limit)", n)
	}
}
