// Package source finds out how many bytes a reader can still deliver, so that the format
// decoders of core/formats compare the sizes a header declares with what the file holds
// before they allocate anything.
package source

import (
	"fmt"
	"io"
	"os"
)

// Remaining returns how many bytes r can still deliver: exactly for *os.File and readers with
// a Len method (*bytes.Reader, *strings.Reader, *bytes.Buffer), as an upper bound for an
// *io.LimitedReader. known is false for any other reader.
func Remaining(r io.Reader) (n int64, exact, known bool) {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len()), true, true
	case *os.File:
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return 0, false, false
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, false, false
		}
		return max(st.Size()-pos, 0), true, true
	case *io.LimitedReader:
		return max(v.N, 0), false, true
	}
	return 0, false, false
}

// ReaderAt returns r as an io.ReaderAt with its size: directly when r is one with a Size
// method (*bytes.Reader, *strings.Reader, *io.SectionReader) or an *os.File (from offset 0);
// otherwise it reads r into memory, refusing more than limit bytes.
func ReaderAt(r io.Reader, limit int64) (io.ReaderAt, int64, error) {
	switch v := r.(type) {
	case interface {
		io.ReaderAt
		Size() int64
	}:
		return v, v.Size(), nil
	case *os.File:
		st, err := v.Stat()
		if err == nil && st.Mode().IsRegular() {
			return v, st.Size(), nil
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) > limit {
		return nil, 0, fmt.Errorf("input longer than the %d-byte limit", limit)
	}
	return bytesAt(b), int64(len(b)), nil
}

type bytesAt []byte

func (b bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		if len(p) == 0 && off == int64(len(b)) {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
