package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// IDX is the content of an idx file, the format of the MNIST distribution
// (http://yann.lecun.com/exdb/mnist/): a 4-byte magic 0x00 0x00 TYPE NDIMS, NDIMS big-endian
// uint32 sizes, then the values in row-major order. Only TYPE 0x08 (unsigned byte) is read.
type IDX struct {
	// Dims are the sizes, outermost first (MNIST images: [count, 28, 28]; labels: [count]).
	Dims []int
	// Data holds prod(Dims) bytes.
	Data []byte
}

const (
	idxTypeUByte = 0x08
	// maxIDXDims bounds NDIMS; MNIST uses 1 and 3.
	maxIDXDims = 4
	// DefaultMaxIDXBytes bounds the payload of an idx file (MNIST train images are 47 MB).
	DefaultMaxIDXBytes = 1 << 30
)

// ReadIDXFile reads an idx file, gzip-compressed or not, from path.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open idx file: %w", err)
	}
	defer f.Close()
	return ParseIDX(f, path, DefaultMaxIDXBytes)
}

// ParseIDX reads an idx file from r, gunzipping it first when it starts with the gzip magic
// 1f 8b. name is used in errors only. A payload larger than maxBytes, a bad magic, a short
// payload, trailing bytes or a gzip checksum error are errors; memory grows with the bytes
// actually read, never with the header's claim alone.
func ParseIDX(r io.Reader, name string, maxBytes int64) (*IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx file %s: bad gzip header: %w", name, err)
		}
		defer zr.Close()
		zr.Multistream(false)
		src = zr
	}
	var magic [4]byte
	if _, err := io.ReadFull(src, magic[:]); err != nil {
		return nil, fmt.Errorf("idx file %s: truncated magic: %w", name, err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > maxIDXDims {
		return nil, fmt.Errorf("idx file %s: bad magic % x (want 00 00 08 NDIMS with NDIMS in 1..%d)",
			name, magic[:], maxIDXDims)
	}
	if magic[2] != idxTypeUByte {
		return nil, fmt.Errorf("idx file %s: unsupported value type %#02x (only 0x08, unsigned byte)",
			name, magic[2])
	}
	raw := make([]byte, 4*int(magic[3]))
	if _, err := io.ReadFull(src, raw); err != nil {
		return nil, fmt.Errorf("idx file %s: truncated header (%d dimensions): %w", name, magic[3], err)
	}
	dims := make([]int, magic[3])
	size := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(raw[4*i:]))
		if d == 0 {
			return nil, fmt.Errorf("idx file %s: dimension %d is zero", name, i)
		}
		if size > maxBytes/d {
			return nil, fmt.Errorf("idx file %s: header dimensions %v exceed the %d-byte limit",
				name, dims[:i+1], maxBytes)
		}
		size *= d
		dims[i] = int(d)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(size, 64<<20)))
	got, err := io.CopyN(&buf, src, size)
	if got < size {
		return nil, fmt.Errorf("idx file %s: truncated: header %v declares %d bytes, found %d: %w",
			name, dims, size, got, err)
	}
	extra, err := io.Copy(io.Discard, io.LimitReader(src, 1))
	if err != nil {
		return nil, fmt.Errorf("idx file %s: corrupt after payload: %w", name, err)
	}
	if extra > 0 {
		return nil, fmt.Errorf("idx file %s: trailing data after the %d bytes declared by %v", name, size, dims)
	}
	return &IDX{Dims: dims, Data: buf.Bytes()}, nil
}

// EncodeIDX writes dims and data as an uncompressed unsigned-byte idx file (used by tests
// and tools that make small MNIST-like sets).
func EncodeIDX(w io.Writer, dims []int, data []byte) error {
	if len(dims) == 0 || len(dims) > maxIDXDims {
		return fmt.Errorf("encode idx: %d dimensions, want 1..%d", len(dims), maxIDXDims)
	}
	size := 1
	hdr := []byte{0, 0, idxTypeUByte, byte(len(dims))}
	for _, d := range dims {
		if d <= 0 || d > 1<<31 {
			return fmt.Errorf("encode idx: dimension %d out of range", d)
		}
		size *= d
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if size != len(data) {
		return fmt.Errorf("encode idx: dimensions %v need %d bytes, got %d", dims, size, len(data))
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("encode idx: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("encode idx: %w", err)
	}
	return nil
}
