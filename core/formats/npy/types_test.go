package npy

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
)

// npyBytes builds a .npy file by hand: version 1.0, the given descr and shape text (as in the
// dict, e.g. "2, 3"), then raw data bytes.
func npyBytes(descr, shape string, raw []byte) []byte {
	d := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }"
	total := 10 + len(d) + 1
	h := d + strings.Repeat(" ", (64-total%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(raw)
	return b.Bytes()
}

// TestReadTypes reads each supported dtype in both byte orders from hand-made bytes; the
// expected values are the raw samples as written (e.g. 0xff 0xfe big-endian int16 is -2).
func TestReadTypes(t *testing.T) {
	cases := []struct {
		descr string
		raw   []byte
		want  []float32
		typ   dtype.Type
	}{
		{"|u1", []byte{0, 7, 200, 255}, []float32{0, 7, 200, 255}, dtype.Uint8},
		{"|i1", []byte{0, 7, 0x80, 0xff}, []float32{0, 7, -128, -1}, dtype.Int8},
		{"<u2", []byte{1, 0, 0xff, 0x0f, 0, 1, 0xff, 0xff}, []float32{1, 4095, 256, 65535}, dtype.Uint16},
		{">u2", []byte{0, 1, 0x0f, 0xff, 1, 0, 0xff, 0xff}, []float32{1, 4095, 256, 65535}, dtype.Uint16},
		{"<i2", []byte{0xfe, 0xff, 0, 0x80, 0xff, 0x7f, 3, 0}, []float32{-2, -32768, 32767, 3}, dtype.Int16},
		{">i2", []byte{0xff, 0xfe, 0x80, 0, 0x7f, 0xff, 0, 3}, []float32{-2, -32768, 32767, 3}, dtype.Int16},
		{"<f2", []byte{0, 0x3c, 0, 0xc0, 0x66, 0x2e, 0xff, 0x7b}, []float32{1, -2, 0.0999755859375, 65504}, dtype.Float16},
		{">f4", []byte{0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0x42, 0x28, 0, 0}, []float32{1.5, -2, 0, 42}, dtype.Float32},
		{">f8", append(append(append([]byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...),
			0xc0, 0, 0, 0, 0, 0, 0, 0), 0x40, 0x45, 0, 0, 0, 0, 0, 0), []float32{1.5, 0, -2, 42}, dtype.Float64},
	}
	for _, c := range cases {
		a, err := Read(bytes.NewReader(npyBytes(c.descr, "2, 2", c.raw)))
		if err != nil {
			t.Errorf("%s: %v", c.descr, err)
			continue
		}
		if !slices.Equal(a.Data, c.want) || !slices.Equal(a.Shape, []int{2, 2}) || a.DType != c.typ {
			t.Errorf("%s: got %v %v %v, want %v [2 2] %v", c.descr, a.Data, a.Shape, a.DType, c.want, c.typ)
		}
	}
}

// TestWriteAs round-trips every writable type and counts the values moved into range.
func TestWriteAs(t *testing.T) {
	in := []float32{-3, 0.4, 0.5, 254.6, 300, 65535.4, 70000, -40000}
	cases := []struct {
		t       dtype.Type
		want    []float32
		clipped int
	}{
		{dtype.Uint8, []float32{0, 0, 1, 255, 255, 255, 255, 0}, 5},
		{dtype.Uint16, []float32{0, 0, 1, 255, 300, 65535, 65535, 0}, 3},
		{dtype.Int16, []float32{-3, 0, 1, 255, 300, 32767, 32767, -32768}, 3},
		{dtype.Float32, in, 0},
		{dtype.Float64, in, 0},
	}
	for _, c := range cases {
		var b bytes.Buffer
		n, err := WriteAs(&b, []int{2, 4}, in, c.t)
		if err != nil || n != c.clipped {
			t.Errorf("%v: clipped %d, %v; want %d", c.t, n, err, c.clipped)
		}
		a, err := Read(&b)
		if err != nil {
			t.Fatalf("%v: %v", c.t, err)
		}
		if !slices.Equal(a.Data, c.want) || a.DType != c.t {
			t.Errorf("%v: read back %v as %v, want %v", c.t, a.Data, a.DType, c.want)
		}
	}
}

// onlyReader hides the Len method of a reader, so Read cannot know the input's length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestAbsurdHeaders: a tiny file that declares a huge or overflowing shape is rejected with a
// message naming the problem, allocating no more than a small multiple of its size.
func TestAbsurdHeaders(t *testing.T) {
	cases := []struct {
		name, descr, shape, want string
		stream                   bool
	}{
		{"huge shape", "<f4", "100000, 100000, 100000", "more than", false},
		{"overflowing shape", "<u2", "9223372036854775807, 9223372036854775807", "more than", false},
		{"declares 4 GiB", "<f4", "32768, 32768", "truncated", false},
		{"declares 4 GiB, unknown length", "<f4", "32768, 32768", "file ends after", true},
		{"negative dimension", "<f4", "-1, 4", "malformed", false},
		{"fortran", "<f4", "2, 2", "Fortran", false},
		{"int32", "<i4", "2, 2", `dtype "<i4"`, false},
		{"complex", "<c8", "2,", `dtype "<c8"`, false},
		{"too many dims", "<f4", strings.Repeat("1, ", 33), "dimensions", false},
	}
	for _, c := range cases {
		file := npyBytes(c.descr, c.shape, make([]byte, 64))
		if c.name == "fortran" {
			file = bytes.Replace(file, []byte("False"), []byte("True "), 1)
		}
		var err error
		alloc := fmttest.Allocated(func() {
			var r io.Reader = bytes.NewReader(file)
			if c.stream {
				r = onlyReader{r}
			}
			_, err = Read(r)
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		if alloc > 1<<20 {
			t.Errorf("%s: rejecting a %d-byte file allocated %d bytes", c.name, len(file), alloc)
		}
	}
}

// TestWriteFileAs writes a uint16 file and reads it back through ReadFile.
func TestWriteFileAs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.npy")
	n, err := WriteFileAs(p, []int{1, 2, 2}, []float32{0, 1.6, 65536, 4095}, dtype.Uint16)
	if err != nil || n != 1 {
		t.Fatalf("WriteFileAs: clipped %d, %v; want 1, nil", n, err)
	}
	a, err := ReadFile(p)
	if err != nil || !slices.Equal(a.Data, []float32{0, 2, 65535, 4095}) || a.DType != dtype.Uint16 {
		t.Fatalf("ReadFile = %+v, %v", a, err)
	}
	if _, err := WriteFileAs(p, []int{1}, []float32{0}, dtype.Invalid); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("invalid type: err = %v, want an error naming %s", err, p)
	}
	if st, _ := os.Stat(p); st.Size() != 128+8 {
		t.Errorf("failed write changed the file (size %d)", st.Size())
	}
}
