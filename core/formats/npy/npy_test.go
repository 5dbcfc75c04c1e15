package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriteMatchesNumPy compares the bytes of Write with what numpy.save writes for
// np.array([1.5, -2], dtype=np.float32): the well-known 128-byte preamble
// "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" padded with
// spaces and '\n' (header length 0x76 = 118), then the little-endian floats.
func TestWriteMatchesNumPy(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, []int{2}, []float32{1.5, -2}); err != nil {
		t.Fatal(err)
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	want := "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 118-1-len(dict)) + "\n" +
		"\x00\x00\xc0\x3f" + "\x00\x00\x00\xc0"
	if got := b.String(); got != want {
		t.Errorf("bytes differ from numpy.save:\n got %q\nwant %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		shape []int
		data  []float32
	}{
		{[]int{2, 3, 4, 1}, seq(24)},
		{[]int{5}, seq(5)},
		{[]int{}, []float32{7}},
		{[]int{3, 0}, []float32{}},
		{[]int{1, 1000, 10}, seq(10000)}, // longer than one read chunk
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := Write(&b, c.shape, c.data); err != nil {
			t.Fatal(err)
		}
		if b.Len()%4 != 0 || (b.Len()-4*len(c.data))%align != 0 {
			t.Errorf("shape %v: data does not start at a multiple of %d", c.shape, align)
		}
		a, err := Read(&b)
		if err != nil {
			t.Fatalf("shape %v: %v", c.shape, err)
		}
		if !slices.Equal(a.Shape, c.shape) && !(len(a.Shape) == 0 && len(c.shape) == 0) {
			t.Errorf("shape %v read back as %v", c.shape, a.Shape)
		}
		if !slices.Equal(a.Data, c.data) {
			t.Errorf("shape %v: data differs", c.shape)
		}
	}
}

// f8File builds a version-2.0 float64 file by hand, as numpy.save writes for large headers.
func f8File(shape string, vals []float64, fortran string) []byte {
	dict := "{'descr': '<f8', 'fortran_order': " + fortran + ", 'shape': (" + shape + "), }"
	total := 12 + len(dict) + 1
	h := dict + strings.Repeat(" ", (64-total%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x02\x00")
	binary.Write(&b, binary.LittleEndian, uint32(len(h)))
	b.WriteString(h)
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, math.Float64bits(v))
	}
	return b.Bytes()
}

func TestReadFloat64V2(t *testing.T) {
	a, err := Read(bytes.NewReader(f8File("2, 2", []float64{0.25, 0.5, 1, -1}, "False")))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Shape, []int{2, 2}) || !slices.Equal(a.Data, []float32{0.25, 0.5, 1, -1}) {
		t.Errorf("got %v %v", a.Shape, a.Data)
	}
}

func TestReadErrors(t *testing.T) {
	var good bytes.Buffer
	Write(&good, []int{2, 2}, seq(4))
	g := good.Bytes()
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a .npy file"},
		{"bad magic", append([]byte("PK\x03\x04xxxx"), g[8:]...), "magic"},
		{"truncated data", g[:len(g)-3], "truncated"},
		{"trailing bytes", append(slices.Clone(g), 0), "bytes after"},
		{"fortran", f8File("2,", []float64{1, 2}, "True"), "Fortran order"},
		{"int dtype", bytes.Replace(slices.Clone(g), []byte("<f4"), []byte("<i4"), 1), `dtype "<i4"`},
		{"native order", bytes.Replace(slices.Clone(g), []byte("<f4"), []byte("=f4"), 1), `native byte order`},
		{"version", append([]byte("\x93NUMPY\x09\x00"), g[8:]...), "version 9.0"},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.npy")
	if err := WriteFile(p, []int{3}, seq(3)); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadFile(p); err != nil || !slices.Equal(a.Data, seq(3)) {
		t.Fatalf("ReadFile = %v, %v", a, err)
	}
	os.WriteFile(p, []byte("junk"), 0o644)
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v, want the path in it", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.npy")); err == nil || !strings.Contains(err.Error(), "missing.npy") {
		t.Errorf("err = %v, want the path in it", err)
	}
}

func seq(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)*0.5 - 3
	}
	return s
}
