package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// codes maps the NumPy type code (without its byte-order character) to a Type.
var codes = map[string]dtype.Type{
	"u1": dtype.Uint8, "i1": dtype.Int8, "u2": dtype.Uint16, "i2": dtype.Int16,
	"f2": dtype.Float16, "f4": dtype.Float32, "f8": dtype.Float64,
}

// descr returns the little-endian NumPy descr of t ('|u1' for one-byte types).
func descr(t dtype.Type) (string, error) {
	for code, ct := range codes {
		if ct == t {
			if t.Size() == 1 {
				return "|" + code, nil
			}
			return "<" + code, nil
		}
	}
	return "", fmt.Errorf("npy: sample type %v cannot be written", t)
}

// header is what the dict of a .npy file declares.
type header struct {
	shape []int
	t     dtype.Type
	order binary.ByteOrder
	n     int64 // number of values
	bytes int64 // data bytes
}

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// parseHeader reads the header dict: dtype, order and shape, with the value count and data
// size computed without overflow (at most maxElements values).
func parseHeader(h string) (*header, error) {
	d := reDescr.FindStringSubmatch(h)
	f := reFortran.FindStringSubmatch(h)
	s := reShape.FindStringSubmatch(h)
	if d == nil || f == nil || s == nil {
		return nil, fmt.Errorf("npy header %q lacks descr, fortran_order or shape (structured arrays are not supported)", clip(strings.TrimSpace(h)))
	}
	hd := &header{}
	var err error
	if hd.t, hd.order, err = parseDescr(d[1]); err != nil {
		return nil, err
	}
	if f[1] == "True" {
		return nil, errors.New("npy array is in Fortran order, which is not supported: save it with numpy.ascontiguousarray first")
	}
	hd.n = 1
	for _, part := range strings.Split(s[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(part, "L"), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("npy shape (%s) is malformed", clip(s[1]))
		}
		if v > maxElements || (v != 0 && hd.n > maxElements/v) {
			return nil, fmt.Errorf("npy shape (%s) declares more than %d values", clip(s[1]), int64(maxElements))
		}
		hd.n *= v
		hd.shape = append(hd.shape, int(v))
	}
	if len(hd.shape) > maxRank {
		return nil, fmt.Errorf("npy shape (%s) has %d dimensions, at most %d are supported", clip(s[1]), len(hd.shape), maxRank)
	}
	hd.bytes = hd.n * int64(hd.t.Size())
	return hd, nil
}

// parseDescr reads a simple dtype string such as '<f4', '>u2' or '|u1'.
func parseDescr(s string) (dtype.Type, binary.ByteOrder, error) {
	const supported = "supported: uint8 '|u1', int8 '|i1', uint16 'u2', int16 'i2', float16 'f2', float32 'f4', float64 'f8', little- ('<') or big-endian ('>')"
	if len(s) != 3 {
		return 0, nil, fmt.Errorf("npy dtype %q is not supported (%s)", s, supported)
	}
	t, ok := codes[s[1:]]
	if !ok {
		return 0, nil, fmt.Errorf("npy dtype %q is not supported (%s)", s, supported)
	}
	switch {
	case s[0] == '<' || (s[0] == '|' && t.Size() == 1):
		return t, binary.LittleEndian, nil
	case s[0] == '>':
		return t, binary.BigEndian, nil
	case s[0] == '=':
		return 0, nil, fmt.Errorf("npy dtype %q has native byte order, which a file cannot declare: want '<' or '>'", s)
	}
	return 0, nil, fmt.Errorf("npy dtype %q has an unknown byte order (%s)", s, supported)
}

// dict returns the padded header of a version 1.0 file: the dict, spaces and '\n', so that
// the data start at a multiple of 64 bytes.
func dict(shape []int, t dtype.Type) (string, error) {
	ds, err := descr(t)
	if err != nil {
		return "", err
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	d := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", ds, tuple)
	// Preamble: magic (6) + version (2) + header length (2) + dict + padding + '\n'.
	total := 10 + len(d) + 1
	pad := (align - total%align) % align
	h := d + strings.Repeat(" ", pad) + "\n"
	if len(h) > math.MaxUint16 {
		return "", fmt.Errorf("npy: header of %d bytes is too long for format 1.0", len(h))
	}
	return h, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
