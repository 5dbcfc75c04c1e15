// Package npy reads and writes NumPy .npy files: the interchange format of the
// corrupted-dataset store (core/corrupt), of kernel files (blur.kernel) and of image stacks
// read through core/formats.
//
// It follows the NumPy format specification (numpy.lib.format, "NPY format"): the magic
// "\x93NUMPY", a version byte pair, a little-endian header length (uint16 for version 1.0,
// uint32 for 2.0 and 3.0), and an ASCII Python dict literal with the keys 'descr',
// 'fortran_order' and 'shape', padded with spaces and a final newline so that the data start
// at a multiple of 64 bytes; then the raw data in C (row-major) order.
//
// Read accepts versions 1.0-3.0, C order, and the dtypes uint8 '|u1', int8 '|i1', uint16
// 'u2', int16 'i2', float16 'f2', float32 'f4' and float64 'f8', little- ('<') or big-endian
// ('>'), of any rank up to 32. Values become float32 without rescaling (see core/formats/dtype:
// exact for all but float64, which is rounded to float32); Array.DType keeps the stored type.
// Fortran order, other dtypes (int32, complex, bool, structured, object) and byte-order
// characters other than '<', '>' and '|' are errors that say what was found.
//
// # Untrusted input
//
// The header is checked before the data are allocated: the shape's value count (at most
// 2^40) is computed without overflow, and when the reader's remaining length is known (a
// file, a *bytes.Reader, an *io.LimitedReader) the declared data size must equal it (a short
// file is "truncated", a long one has "bytes after" the data); otherwise the data are read in
// chunks and memory grows only with the bytes that actually arrive. Errors of ReadFile name
// the file.
//
// Write produces version 1.0 files, as numpy.save does: dtype '<f4' for Write, or the type
// given to WriteAs ('|u1', '<u2', ... little-endian), C order. Integer types are written by
// the quantization rule of core/formats/dtype (round half away from zero, clip to the range),
// and WriteAs returns how many values were clipped.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/source"
)

// Array is an n-dimensional array in C (row-major) order, held as float32.
type Array struct {
	Shape []int
	Data  []float32
	// DType is the sample type stored in the file (Write and WriteAs ignore it).
	DType dtype.Type
}

const (
	magic       = "\x93NUMPY"
	align       = 64      // NumPy aligns the data start to 64 bytes
	maxHeader   = 1 << 20 // refuse absurd headers in untrusted files
	maxElements = 1 << 40 // refuse absurd shapes
	maxRank     = 32      // NumPy's own limit (NPY_MAXDIMS)
	chunk       = 1 << 16 // values per read when the input length is unknown
)

// Write writes a version 1.0 '<f4' C-order .npy stream of data with the given shape.
func Write(w io.Writer, shape []int, data []float32) error {
	_, err := WriteAs(w, shape, data, dtype.Float32)
	return err
}

// WriteAs writes a version 1.0 C-order .npy stream of data with the given shape, stored as t
// (little-endian), and returns how many values were clipped to t's range.
func WriteAs(w io.Writer, shape []int, data []float32, t dtype.Type) (clipped int, err error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("npy: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if n != len(data) {
		return 0, fmt.Errorf("npy: shape %v needs %d values, got %d", shape, n, len(data))
	}
	header, err := dict(shape, t)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(magic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	buf := make([]byte, min(len(data), chunk)*t.Size())
	for i := 0; i < len(data); i += chunk {
		part := data[i:min(i+chunk, len(data))]
		b := buf[:len(part)*t.Size()]
		clipped += dtype.Encode(b, part, t, binary.LittleEndian)
		bw.Write(b)
	}
	return clipped, bw.Flush()
}

// Read reads one .npy array from r, which must end right after the data.
func Read(r io.Reader) (*Array, error) {
	left, exact, known := source.Remaining(r)
	br := bufio.NewReaderSize(r, 1<<16)
	var pre [8]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return nil, fmt.Errorf("not a .npy file: %w", eofIsShort(err))
	}
	if string(pre[:6]) != magic {
		return nil, errors.New(`not a .npy file: missing the "\x93NUMPY" magic`)
	}
	var hlen int
	switch pre[6] {
	case 1:
		var n uint16
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("npy header: %w", eofIsShort(err))
		}
		hlen = int(n)
		left -= 10
	case 2, 3:
		var n uint32
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("npy header: %w", eofIsShort(err))
		}
		if n > maxHeader {
			return nil, fmt.Errorf("npy header of %d bytes is implausibly long (limit %d)", n, maxHeader)
		}
		hlen = int(n)
		left -= 12
	default:
		return nil, fmt.Errorf("npy format version %d.%d is not supported (1.0-3.0 are)", pre[6], pre[7])
	}
	if known && int64(hlen) > left {
		return nil, fmt.Errorf("npy header of %d bytes is longer than the %d bytes left: file truncated", hlen, left)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("npy header: %w", eofIsShort(err))
	}
	left -= int64(hlen)
	h, err := parseHeader(string(hb))
	if err != nil {
		return nil, err
	}
	if known && h.bytes > left {
		return nil, fmt.Errorf("npy data: shape %v of %v needs %d bytes, file has %d: truncated", h.shape, h.t, h.bytes, left)
	}
	if exact && h.bytes < left {
		return nil, fmt.Errorf("npy data: file has %d bytes after the %d values of shape %v", left-h.bytes, h.n, h.shape)
	}
	data, err := readData(br, h, known)
	if err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("npy data: file has bytes after the %d values of shape %v", h.n, h.shape)
		}
		return nil, fmt.Errorf("npy data: %w", err)
	}
	return &Array{Shape: h.shape, Data: data, DType: h.t}, nil
}

// readData reads the h.n values. With a checked length it allocates them at once; otherwise
// memory grows with the data that arrive, so a lying header cannot exhaust it.
func readData(br *bufio.Reader, h *header, checked bool) ([]float32, error) {
	size := h.t.Size()
	var data []float32
	if checked {
		data = make([]float32, 0, h.n)
	} else {
		data = make([]float32, 0, min(h.n, chunk))
	}
	buf := make([]byte, size*int(min(h.n, chunk)))
	for left := h.n; left > 0; {
		m := int(min(left, chunk))
		if got, err := io.ReadFull(br, buf[:m*size]); err != nil {
			return nil, fmt.Errorf("npy data: shape %v needs %d values, file ends after %d: %w",
				h.shape, h.n, len(data)+got/size, eofIsShort(err))
		}
		k := len(data)
		data = append(data, make([]float32, m)...)
		dtype.Decode(data[k:], buf[:m*size], h.t, h.order)
		left -= int64(m)
	}
	return data, nil
}

func eofIsShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadFile reads the .npy file at path; errors name the file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteFile writes an '<f4' .npy file atomically (temporary file, fsync, rename).
func WriteFile(path string, shape []int, data []float32) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(w, shape, data) })
}

// WriteFileAs writes a .npy file of type t atomically and returns how many values were
// clipped to t's range.
func WriteFileAs(path string, shape []int, data []float32, t dtype.Type) (clipped int, err error) {
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var err error
		clipped, err = WriteAs(w, shape, data, t)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return clipped, nil
}
