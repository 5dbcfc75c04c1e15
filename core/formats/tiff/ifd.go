package tiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Tags this package reads or writes (TIFF 6.0, section 8 and appendix A).
const (
	tNewSubfileType  = 254
	tImageWidth      = 256
	tImageLength     = 257
	tBitsPerSample   = 258
	tCompression     = 259
	tPhotometric     = 262
	tDescription     = 270
	tStripOffsets    = 273
	tSamplesPerPixel = 277
	tRowsPerStrip    = 278
	tStripByteCounts = 279
	tXResolution     = 282
	tYResolution     = 283
	tPlanarConfig    = 284
	tResolutionUnit  = 296
	tSoftware        = 305
	tPredictor       = 317
	tTileWidth       = 322
	tTileOffsets     = 324
	tExtraSamples    = 338
	tSampleFormat    = 339
)

// Field types and their sizes in bytes (TIFF 6.0 section 2, "IFD Entry").
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeSByte     = 6
	typeUndefined = 7
	typeSShort    = 8
	typeSLong     = 9
	typeSRational = 10
	typeFloat     = 11
	typeDouble    = 12
	typeIFD       = 13
)

var typeSize = map[uint16]int64{typeByte: 1, typeASCII: 1, typeShort: 2, typeLong: 4,
	typeRational: 8, typeSByte: 1, typeUndefined: 1, typeSShort: 2, typeSLong: 4,
	typeSRational: 8, typeFloat: 4, typeDouble: 8, typeIFD: 4}

// file is an open TIFF: its bytes (random access), size and byte order. budget is how many
// more bytes of tag values may be read: every value lies in the file, but IFDs may share
// them, and the budget (a few times the file size) keeps a file whose many IFDs all point at
// one large array from costing memory quadratic in its size.
type file struct {
	r      io.ReaderAt
	size   int64
	order  binary.ByteOrder
	budget int64
}

// entry is one IFD entry: its field type, value count, and either the value bytes (when they
// fit in the entry's four bytes) or their offset, read on first use.
type entry struct {
	typ    uint16
	count  int64
	off    int64
	inline []byte
}

// ifd maps tags to entries.
type ifd map[uint16]*entry

// readAt reads n bytes at off, which the caller has checked to lie within the file.
func (f *file) readAt(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || n > f.size-off {
		return nil, fmt.Errorf("%d bytes at offset %d lie outside the %d-byte file", n, off, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
	}
	return b, nil
}

// header reads the 8-byte file header and returns the offset of the first IFD.
func (f *file) header() (int64, error) {
	if f.size < 8 {
		return 0, fmt.Errorf("not a TIFF file: %d bytes, shorter than the 8-byte header", f.size)
	}
	h, err := f.readAt(0, 8)
	if err != nil {
		return 0, err
	}
	switch string(h[:2]) {
	case "II":
		f.order = binary.LittleEndian
	case "MM":
		f.order = binary.BigEndian
	default:
		return 0, fmt.Errorf("not a TIFF file: byte order mark %q, want \"II\" or \"MM\"", h[:2])
	}
	switch v := f.order.Uint16(h[2:]); v {
	case 42:
	case 43:
		return 0, errors.New("BigTIFF (version 43) is not supported: save as classic TIFF (under 4 GiB)")
	default:
		return 0, fmt.Errorf("not a TIFF file: version %d, want 42", v)
	}
	return int64(f.order.Uint32(h[4:])), nil
}

// readIFD reads the IFD at off and returns it with the offset of the next one (0 at the end).
func (f *file) readIFD(off int64) (ifd, int64, error) {
	cb, err := f.readAt(off, 2)
	if err != nil {
		return nil, 0, fmt.Errorf("IFD at offset %d: %w", off, err)
	}
	n := int64(f.order.Uint16(cb))
	if n == 0 {
		return nil, 0, fmt.Errorf("IFD at offset %d has no entries", off)
	}
	if 12*n+6 > f.budget {
		return nil, 0, fmt.Errorf("IFD at offset %d: %d entries exceed what a %d-byte file can hold in its IFDs", off, n, f.size)
	}
	f.budget -= 12*n + 6
	b, err := f.readAt(off+2, 12*n+4)
	if err != nil {
		return nil, 0, fmt.Errorf("IFD at offset %d with %d entries: %w", off, n, err)
	}
	d := make(ifd, n)
	for i := range n {
		e := b[12*i : 12*i+12]
		tag, typ := f.order.Uint16(e), f.order.Uint16(e[2:])
		count := int64(f.order.Uint32(e[4:]))
		size, ok := typeSize[typ]
		if !ok {
			continue // unknown field types are to be skipped (TIFF 6.0 section 2)
		}
		en := &entry{typ: typ, count: count}
		if size*count <= 4 {
			en.inline = e[8 : 8+size*count]
		} else {
			en.off = int64(f.order.Uint32(e[8:]))
		}
		d[tag] = en
	}
	return d, int64(f.order.Uint32(b[12*n:])), nil
}

// value returns the value bytes of e, reading them from the file (within the budget) when
// they are stored out of line.
func (f *file) value(tag uint16, e *entry) ([]byte, error) {
	if e.inline != nil || e.count == 0 {
		return e.inline, nil
	}
	n := typeSize[e.typ] * e.count
	if n > f.budget {
		return nil, fmt.Errorf("tag %d: %d values of %d bytes exceed what a %d-byte file can hold in its tags", tag, e.count, typeSize[e.typ], f.size)
	}
	b, err := f.readAt(e.off, n)
	if err != nil {
		return nil, fmt.Errorf("tag %d (%d values of type %d): %w", tag, e.count, e.typ, err)
	}
	f.budget -= n
	return b, nil
}

// uints returns the values of an integer-typed entry (BYTE, SHORT or LONG), nil when absent.
func (f *file) uints(d ifd, tag uint16) ([]uint64, error) {
	e := d[tag]
	if e == nil {
		return nil, nil
	}
	if e.typ != typeByte && e.typ != typeShort && e.typ != typeLong && e.typ != typeIFD {
		return nil, fmt.Errorf("tag %d has field type %d, want an unsigned integer type", tag, e.typ)
	}
	data, err := f.value(tag, e)
	if err != nil {
		return nil, err
	}
	v := make([]uint64, e.count)
	for i := range v {
		switch e.typ {
		case typeByte:
			v[i] = uint64(data[i])
		case typeShort:
			v[i] = uint64(f.order.Uint16(data[2*i:]))
		default:
			v[i] = uint64(f.order.Uint32(data[4*i:]))
		}
	}
	return v, nil
}

// uint returns the single value of an integer tag, or def when the tag is absent.
func (f *file) uint(d ifd, tag uint16, def uint64) (uint64, error) {
	v, err := f.uints(d, tag)
	switch {
	case err != nil:
		return 0, err
	case v == nil:
		return def, nil
	case len(v) == 0:
		return 0, fmt.Errorf("tag %d has no value", tag)
	}
	return v[0], nil
}

// ascii returns an ASCII tag's text up to its first NUL ("" when absent or unreadable: text
// tags are informative only).
func (f *file) ascii(d ifd, tag uint16) string {
	e := d[tag]
	if e == nil || e.typ != typeASCII {
		return ""
	}
	data, err := f.value(tag, e)
	if err != nil {
		return ""
	}
	s := string(data)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// rational returns a RATIONAL tag's numerator and denominator ({0, 0} when absent or
// unreadable).
func (f *file) rational(d ifd, tag uint16) [2]uint32 {
	e := d[tag]
	if e == nil || e.typ != typeRational || e.count != 1 {
		return [2]uint32{}
	}
	data, err := f.value(tag, e)
	if err != nil {
		return [2]uint32{}
	}
	return [2]uint32{f.order.Uint32(data), f.order.Uint32(data[4:])}
}
