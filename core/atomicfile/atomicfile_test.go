package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "a.txt")
	for _, content := range []string{"first", "second"} {
		if err := WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the target", len(entries))
	}
}

func TestFailedFillKeepsOldContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.txt")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("half-written"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Errorf("content = %q after failed write, want old", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %d entries", len(entries))
	}
}

// TestDiskFullKeepsOldContent: a write that runs out of space (DiskFull) fails with ENOSPC,
// naming the file, and leaves the old content and no temporary file.
func TestDiskFullKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer InjectFault(DiskFull(dir, 10))()
	err := WriteFile(p, make([]byte, 100<<10), 0o644)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("err = %v, want ENOSPC naming %s", err, p)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("content = %q after a failed write, want old", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp file left behind: %d entries", len(entries))
	}
	// Other folders are not affected.
	if err := WriteFile(filepath.Join(t.TempDir(), "b"), make([]byte, 100), 0o644); err != nil {
		t.Errorf("write outside the full folder: %v", err)
	}
	// A summed file keeps its old content and its checksum.
	q := filepath.Join(t.TempDir(), "s.bin")
	if err := WriteFileSummed(q, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	remove := InjectFault(DiskFull(filepath.Dir(q), 1)) // replaces the fault above
	err = WriteFileSummed(q, []byte("new content"), 0o644)
	remove()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("summed write on a full disk: %v", err)
	}
	if err := Verify(q); err != nil {
		t.Errorf("after a failed summed write: %v", err)
	}
}

// TestVerify covers the checksum file: a match, a flipped byte, a truncation, a missing
// checksum, a damaged checksum file.
func TestVerify(t *testing.T) {
	data := []byte(strings.Repeat("flowdiff checkpoint bytes ", 40))
	cases := []struct {
		name   string
		damage func(p string)
		want   string // "" = verified; "nosum" = ErrNoSum; else substring of a DamagedError
	}{
		{"intact", func(string) {}, ""},
		{"flipped byte", func(p string) { flip(t, p, 100) }, "is damaged: its sha256"},
		{"truncated", func(p string) { os.Truncate(p, 50) }, "is damaged: its sha256"},
		{"missing file", func(p string) { os.Remove(p) }, "is damaged"},
		{"no checksum", func(p string) { os.Remove(p + SumSuffix) }, "nosum"},
		{"garbled checksum", func(p string) { os.WriteFile(p+SumSuffix, []byte("xyz"), 0o644) }, "not a sha256sum line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v.bin")
			if err := WriteFileSummed(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			c.damage(p)
			err := Verify(p)
			_, rerr := ReadVerified(p, false)
			for _, e := range []error{err, rerr} {
				switch {
				case c.want == "" && e != nil:
					t.Errorf("intact file: %v", e)
				case c.want == "nosum" && !errors.Is(e, ErrNoSum):
					t.Errorf("err = %v, want ErrNoSum", e)
				case c.want != "" && c.want != "nosum":
					var de *DamagedError
					if !errors.As(e, &de) || !strings.Contains(e.Error(), c.want) {
						t.Errorf("err = %v, want a DamagedError containing %q", e, c.want)
					}
				}
			}
		})
	}
	// The checksum file is what sha256sum -c reads.
	p := filepath.Join(t.TempDir(), "v.bin")
	WriteFileSummed(p, []byte("abc"), 0o644)
	line, _ := os.ReadFile(p + SumSuffix)
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  v.bin\n"; string(line) != want {
		t.Errorf("checksum file = %q, want %q", line, want)
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerify measures checking a 16 MiB file (a checkpoint of the default models is
// smaller) against its checksum file: the cost of a verified load.
func BenchmarkVerify(b *testing.B) {
	p := filepath.Join(b.TempDir(), "ck.bin")
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := WriteFileSummed(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := Verify(p); err != nil {
			b.Fatal(err)
		}
	}
}
