package mrc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/source"
)

const (
	// MaxSamples bounds nx*ny*nz when the input's length is unknown (2^40).
	MaxSamples = 1 << 40
	chunk      = 1 << 16 // samples per read when the input's length is unknown
)

// DecodeHeader reads and checks the main header and skips (keeping) the extended header,
// leaving r at the first data byte. When r's remaining length is known (a file, a
// *bytes.Reader) the declared data must fit in it.
func DecodeHeader(r io.Reader) (*Header, error) {
	h, _, err := decodeHeader(r)
	return h, err
}

// decodeHeader returns the header and the data size it declares.
func decodeHeader(r io.Reader) (*Header, int64, error) {
	left, exact, known := source.Remaining(r)
	var b [HeaderSize]byte
	if n, err := io.ReadFull(r, b[:]); err != nil {
		return nil, 0, fmt.Errorf("mrc: header: %d of %d bytes (file truncated or not MRC): %w", n, HeaderSize, err)
	}
	left -= HeaderSize
	h := &Header{}
	o, err := h.byteOrder(b[:])
	if err != nil {
		return nil, 0, err
	}
	h.parse(b[:], o)
	if string(b[208:212]) != "MAP " {
		h.Notes = append(h.Notes, fmt.Sprintf("no 'MAP ' tag at byte 208 (found %q): read as MRC2014 anyway", b[208:212]))
	}
	t, err := h.Type()
	if err != nil {
		return nil, 0, fmt.Errorf("mrc: %w", err)
	}
	if h.NX < 1 || h.NY < 1 || h.NZ < 1 {
		return nil, 0, fmt.Errorf("mrc: dimensions (nx, ny, nz) = (%d, %d, %d) must be positive", h.NX, h.NY, h.NZ)
	}
	n := int64(h.NX) * int64(h.NY) // < 2^62
	if n > MaxSamples || n*int64(h.NZ) > MaxSamples {
		return nil, 0, fmt.Errorf("mrc: %d x %d x %d samples exceed the limit of %d", h.NX, h.NY, h.NZ, int64(MaxSamples))
	}
	size := n * int64(h.NZ) * int64(t.Size())
	if h.NSymBT < 0 {
		return nil, 0, fmt.Errorf("mrc: extended header length NSYMBT = %d is negative", h.NSymBT)
	}
	if known && int64(h.NSymBT) > left {
		return nil, 0, fmt.Errorf("mrc: extended header of NSYMBT = %d bytes is longer than the %d bytes after the header", h.NSymBT, left)
	}
	if known && size > left-int64(h.NSymBT) {
		return nil, 0, fmt.Errorf("mrc: %d x %d x %d mode-%d samples need %d bytes after the %d-byte extended header, file has %d: truncated",
			h.NX, h.NY, h.NZ, h.Mode, size, h.NSymBT, left-int64(h.NSymBT))
	}
	if exact && size < left-int64(h.NSymBT) {
		h.Notes = append(h.Notes, fmt.Sprintf("%d bytes after the data ignored", left-int64(h.NSymBT)-size))
	}
	h.checkAxes()
	// Without a known length the extended header is read in chunks, growing with what arrives.
	var ext []byte
	for m := int64(h.NSymBT); m > 0; {
		k := min(m, chunk)
		buf := make([]byte, k)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, 0, fmt.Errorf("mrc: extended header of %d bytes: %w", h.NSymBT, eofIsShort(err))
		}
		ext = append(ext, buf...)
		m -= k
	}
	h.ExtHeader = ext
	return h, size, nil
}

// byteOrder reads the machine stamp; an unknown stamp is tolerated with a note, the order
// then guessed from which reading gives a known mode and positive dimensions.
func (h *Header) byteOrder(b []byte) (binary.ByteOrder, error) {
	switch {
	case b[212] == 0x44 && (b[213] == 0x44 || b[213] == 0x41):
		h.ByteOrder = "little"
		return binary.LittleEndian, nil
	case b[212] == 0x11 && b[213] == 0x11:
		h.ByteOrder = "big"
		return binary.BigEndian, nil
	}
	plausible := func(o binary.ByteOrder) bool {
		_, ok := modes[int32(o.Uint32(b[12:]))]
		for i := range 3 {
			if v := int32(o.Uint32(b[4*i:])); v < 1 || v > 1<<24 {
				return false
			}
		}
		return ok
	}
	stamp := fmt.Sprintf("%02x %02x %02x %02x", b[212], b[213], b[214], b[215])
	switch {
	case plausible(binary.LittleEndian):
		h.ByteOrder = "little"
		h.Notes = append(h.Notes, "machine stamp "+stamp+" unknown: little-endian, which gives a known mode and dimensions")
		return binary.LittleEndian, nil
	case plausible(binary.BigEndian):
		h.ByteOrder = "big"
		h.Notes = append(h.Notes, "machine stamp "+stamp+" unknown: big-endian, which gives a known mode and dimensions")
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("mrc: machine stamp %s unknown and neither byte order gives a known mode with positive dimensions: not an MRC file?", stamp)
}

// checkAxes notes axis fields other than the standard (1, 2, 3); data are always returned in
// file order (columns fastest), as mrcfile does.
func (h *Header) checkAxes() {
	axes := []int32{h.MapC, h.MapR, h.MapS}
	if slices.Equal(axes, []int32{1, 2, 3}) {
		return
	}
	s := slices.Clone(axes)
	slices.Sort(s)
	if slices.Equal(s, []int32{1, 2, 3}) {
		h.Notes = append(h.Notes, fmt.Sprintf("axes (MAPC, MAPR, MAPS) = %v: data returned in file order, not permuted to X, Y, Z", axes))
	} else {
		h.Notes = append(h.Notes, fmt.Sprintf("axes (MAPC, MAPR, MAPS) = %v are not a permutation of 1, 2, 3: read as (1, 2, 3)", axes))
	}
}

// Decode reads an MRC file: the header (see DecodeHeader) and the nx*ny*nz samples, as
// float32 in file order (section by section, row by row). Memory is allocated at once when
// the input's length was checked, otherwise it grows with the data that arrive.
func Decode(r io.Reader) (*Header, []float32, error) {
	_, _, known := source.Remaining(r)
	h, size, err := decodeHeader(r)
	if err != nil {
		return nil, nil, err
	}
	t, _ := h.Type()
	o := binary.ByteOrder(binary.LittleEndian)
	if h.ByteOrder == "big" {
		o = binary.BigEndian
	}
	n := size / int64(t.Size())
	var data []float32
	if known {
		data = make([]float32, 0, n)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	buf := make([]byte, min(n, chunk)*int64(t.Size()))
	for left := n; left > 0; {
		m := min(left, chunk)
		b := buf[:m*int64(t.Size())]
		if got, err := io.ReadFull(br, b); err != nil {
			return nil, nil, fmt.Errorf("mrc: data: %d samples declared, file ends after %d: %w", n, len(data)+got/t.Size(), eofIsShort(err))
		}
		k := len(data)
		data = slices.Grow(data, int(m))[:k+int(m)]
		dtype.Decode(data[k:], b, t, o)
		left -= m
	}
	return h, data, nil
}

func eofIsShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Encode writes h and data as a little-endian MRC2014 file. h gives the dimensions (NX, NY,
// NZ), the Mode to store (the values are quantized by core/formats/dtype's rule: Encode
// returns how many were clipped) and everything else that is kept: sampling and cell (pixel
// size), origin, start, space group, labels (at most 10), extended header (NSYMBT follows its
// length), Extra bytes, EXTTYP. Encode sets DMIN, DMAX, DMEAN and RMS from the values as
// stored, the 'MAP ' tag, the machine stamp 0x44 0x44 0 0, NVERSION 20141 unless h has a
// MRC2014 version, MX, MY, MZ when not positive (NX, NY, and 1 for a stack or NZ for a
// volume) and the axes to (1, 2, 3) when they are not a permutation. h is not modified.
func Encode(w io.Writer, h *Header, data []float32) (clipped int, err error) {
	t, err := h.Type()
	if err != nil {
		return 0, fmt.Errorf("mrc: %w", err)
	}
	if h.NX < 1 || h.NY < 1 || h.NZ < 1 {
		return 0, fmt.Errorf("mrc: dimensions (%d, %d, %d) must be positive", h.NX, h.NY, h.NZ)
	}
	if int64(len(data)) != int64(h.NX)*int64(h.NY)*int64(h.NZ) {
		return 0, fmt.Errorf("mrc: %d x %d x %d dimensions need %d samples, got %d", h.NX, h.NY, h.NZ, int64(h.NX)*int64(h.NY)*int64(h.NZ), len(data))
	}
	if len(h.Labels) > 10 {
		return 0, fmt.Errorf("mrc: %d labels, at most 10 fit", len(h.Labels))
	}
	if int64(len(h.ExtHeader)) > math.MaxInt32 {
		return 0, fmt.Errorf("mrc: extended header of %d bytes is too long", len(h.ExtHeader))
	}
	out := *h
	out.Extra = slices.Clone(h.Extra)
	out.fillSampling()
	if axes := []int32{h.MapC, h.MapR, h.MapS}; !isPermutation(axes) {
		out.MapC, out.MapR, out.MapS = 1, 2, 3
	}
	out.NSymBT = int32(len(h.ExtHeader))
	out.MachST = [4]byte{0x44, 0x44, 0, 0}
	if out.NVersion < 20140 {
		out.NVersion = 20141
	}
	raw := make([]byte, len(data)*t.Size())
	clipped = dtype.Encode(raw, data, t, binary.LittleEndian)
	stored := data
	if t != dtype.Float32 {
		stored = make([]float32, len(data))
		dtype.Decode(stored, raw, t, binary.LittleEndian)
	}
	out.DMin, out.DMax, out.DMean, out.RMS = stats(stored)
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(out.marshal())
	bw.Write(h.ExtHeader)
	bw.Write(raw)
	return clipped, bw.Flush()
}

// stats returns the minimum, maximum, mean and standard deviation (population, as mrcfile's
// numpy std) of v, accumulated in float64.
func stats(v []float32) (lo, hi, mean, rms float32) {
	if len(v) == 0 {
		return 0, 0, 0, 0
	}
	l, u, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, x := range v {
		f := float64(x)
		l, u, sum = min(l, f), max(u, f), sum+f
	}
	m := sum / float64(len(v))
	ss := 0.0
	for _, x := range v {
		d := float64(x) - m
		ss += d * d
	}
	return float32(l), float32(u), float32(m), float32(math.Sqrt(ss / float64(len(v))))
}

func isPermutation(a []int32) bool {
	s := slices.Clone(a)
	slices.Sort(s)
	return slices.Equal(s, []int32{1, 2, 3})
}
