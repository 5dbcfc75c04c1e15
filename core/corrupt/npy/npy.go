// Package npy reads and writes NumPy .npy files of float arrays, the interchange format of the
// corrupted-dataset store (core/corrupt) and of kernel files (blur.kernel).
//
// It follows the NumPy format specification (numpy.lib.format, "NPY format"): the magic
// "\x93NUMPY", a version byte pair, a little-endian header length (uint16 for version 1.0,
// uint32 for 2.0 and 3.0), and an ASCII Python dict literal with the keys 'descr',
// 'fortran_order' and 'shape', padded with spaces and a final newline so that the data starts
// at a multiple of 64 bytes; then the raw data.
//
// Write produces version 1.0 files, dtype '<f4' (little-endian float32), C (row-major) order,
// as numpy.save does for such an array; np.load reads them. Read accepts versions 1.0-3.0 in C
// order with dtype '<f4' or '<f8' (float64 is converted to float32) and rejects anything else
// with a message that says what it found. A file must hold exactly the data its header
// announces: a short or over-long file is an error.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// Array is an n-dimensional float32 array in C (row-major) order.
type Array struct {
	Shape []int
	Data  []float32
}

const (
	magic      = "\x93NUMPY"
	align      = 64      // NumPy aligns the data start to 64 bytes
	maxHeader  = 1 << 20 // refuse absurd headers in untrusted files
	maxElement = 1 << 40
)

// Write writes a version 1.0 '<f4' C-order .npy stream of data with the given shape.
func Write(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v needs %d values, got %d", shape, n, len(data))
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// Preamble: magic (6) + version (2) + header length (2) + dict + padding + '\n'.
	total := 10 + len(dict) + 1
	pad := (align - total%align) % align
	header := dict + strings.Repeat(" ", pad) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy: header of %d bytes is too long for format 1.0", len(header))
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(magic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	var buf [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		bw.Write(buf[:])
	}
	return bw.Flush()
}

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// Read reads one .npy array from r, which must end right after the data.
func Read(r io.Reader) (*Array, error) {
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
	case 2, 3:
		var n uint32
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("npy header: %w", eofIsShort(err))
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("npy format version %d.%d is not supported (1.0-3.0 are)", pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("npy header of %d bytes is implausibly long", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("npy header: %w", eofIsShort(err))
	}
	shape, size, err := parseHeader(string(hb))
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		if d != 0 && n > maxElement/d {
			return nil, fmt.Errorf("npy shape %v is too large", shape)
		}
		n *= d
	}
	data := make([]float32, 0, min(n, 1<<20)) // grows as data arrives: a lying header cannot exhaust memory
	buf := make([]byte, size*4096)
	for left := n; left > 0; {
		m := min(left, 4096)
		if _, err := io.ReadFull(br, buf[:m*size]); err != nil {
			return nil, fmt.Errorf("npy data: shape %v needs %d values, file ends after %d: %w",
				shape, n, len(data), eofIsShort(err))
		}
		for i := range m {
			if size == 4 {
				data = append(data, math.Float32frombits(binary.LittleEndian.Uint32(buf[i*4:])))
			} else {
				data = append(data, float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[i*8:]))))
			}
		}
		left -= m
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("npy data: file has bytes after the %d values of shape %v", n, shape)
		}
		return nil, fmt.Errorf("npy data: %w", err)
	}
	return &Array{Shape: shape, Data: data}, nil
}

// parseHeader returns the shape and the element size (4 or 8) from the header dict.
func parseHeader(h string) (shape []int, size int, err error) {
	d := reDescr.FindStringSubmatch(h)
	f := reFortran.FindStringSubmatch(h)
	s := reShape.FindStringSubmatch(h)
	if d == nil || f == nil || s == nil {
		return nil, 0, fmt.Errorf("npy header %q lacks descr, fortran_order or shape", strings.TrimSpace(h))
	}
	switch d[1] {
	case "<f4":
		size = 4
	case "<f8":
		size = 8
	default:
		return nil, 0, fmt.Errorf("npy dtype %q is not supported: save the array as float32 ('<f4') or float64 ('<f8')", d[1])
	}
	if f[1] == "True" {
		return nil, 0, errors.New("npy array is in Fortran order: save it with numpy.ascontiguousarray first")
	}
	for _, part := range strings.Split(s[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSuffix(part, "L"))
		if err != nil || v < 0 {
			return nil, 0, fmt.Errorf("npy shape (%s) is malformed", s[1])
		}
		shape = append(shape, v)
	}
	return shape, size, nil
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

// WriteFileSummed is WriteFile with a checksum file next to it (path.sha256, see
// core/atomicfile), for arrays read back later.
func WriteFileSummed(path string, shape []int, data []float32) error {
	return atomicfile.WriteSummed(path, 0o644, func(w io.Writer) error { return Write(w, shape, data) })
}

// ReadFileVerified reads path after checking it against its checksum file; a file without
// one is read as it is when allowUnsummed (files of older builds).
func ReadFileVerified(path string, allowUnsummed bool) (*Array, error) {
	data, err := atomicfile.ReadVerified(path, allowUnsummed)
	if err != nil {
		return nil, err
	}
	a, err := Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}
