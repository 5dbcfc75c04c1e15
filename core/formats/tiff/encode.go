package tiff

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// stripTarget is the approximate size of one written strip (rows are never split).
const stripTarget = 64 << 10

// EncodeOptions tune Encode; nil means uncompressed.
type EncodeOptions struct {
	// Compression is None (also 0) or Deflate.
	Compression int
}

// field is one IFD entry to write, its value encoded little-endian.
type field struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

// Encode writes s as a little-endian baseline TIFF with one IFD per page, its samples stored
// as t (uint8, int8, uint16, int16, float16, float32 or float64: BitsPerSample and
// SampleFormat 1, 2 or 3) in strips of about 64 KiB. Values are quantized by the rule of
// core/formats/dtype (integers: round half away from zero, then clip to the type's range);
// Encode returns how many were clipped. It writes s.Meta's ImageDescription (first page
// only), resolution and WhiteIsZero back, with Software "FlowDiff-Go". The file must stay
// under 4 GiB (classic TIFF).
func Encode(w io.Writer, s *Stack, t dtype.Type, opt *EncodeOptions) (clipped int, err error) {
	comp := None
	if opt != nil && opt.Compression != 0 {
		comp = opt.Compression
	}
	switch {
	case comp != None && comp != Deflate:
		return 0, fmt.Errorf("tiff: writing compression %d not supported: want None or Deflate", comp)
	case s.W < 1 || s.H < 1 || s.Pages < 1 || (s.C != 1 && s.C != 3):
		return 0, fmt.Errorf("tiff: cannot write a %dx%d stack of %d pages with %d samples per pixel (want 1 or 3)", s.W, s.H, s.Pages, s.C)
	case len(s.Data) != s.Len():
		return 0, fmt.Errorf("tiff: stack of %dx%dx%d x %d pages needs %d samples, has %d", s.W, s.H, s.C, s.Pages, s.Len(), len(s.Data))
	case !t.Valid():
		return 0, fmt.Errorf("tiff: cannot write sample type %v", t)
	}
	rb := s.W * s.C * t.Size()
	rows := min(max(1, stripTarget/rb), s.H)
	bw := bufio.NewWriterSize(w, 1<<16)
	var pos int64
	write := func(b []byte) {
		bw.Write(b)
		pos += int64(len(b))
	}
	cur, c := encodePage(s.Page(0), rb, rows, t, comp)
	clipped += c
	hdr := []byte{'I', 'I', 42, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(hdr[4:], uint32(8+padded(cur)))
	write(hdr)
	for k := range s.Pages {
		if pos+padded(cur)+1<<16 > math.MaxUint32 {
			return 0, errors.New("tiff: stack too large for classic TIFF (4 GiB): write fewer pages per file")
		}
		offsets, counts := make([]uint32, len(cur)), make([]uint32, len(cur))
		for i, strip := range cur {
			offsets[i], counts[i] = uint32(pos), uint32(len(strip))
			write(strip)
		}
		if pos%2 == 1 {
			write([]byte{0})
		}
		var next [][]byte
		if k+1 < s.Pages {
			next, c = encodePage(s.Page(k+1), rb, rows, t, comp)
			clipped += c
		}
		fields := pageFields(s, t, comp, rows, offsets, counts, k == 0)
		ifd := buildIFD(pos, fields, 0)
		if next != nil {
			binary.LittleEndian.PutUint32(ifd[2+12*len(fields):], uint32(pos+int64(len(ifd))+padded(next)))
		}
		write(ifd)
		cur = next
	}
	return clipped, bw.Flush()
}

// padded is the size of a page's strips plus the pad byte that keeps its IFD word-aligned.
func padded(strips [][]byte) int64 {
	var n int64
	for _, s := range strips {
		n += int64(len(s))
	}
	return n + n%2
}

// encodePage stores one page's samples as t in strips of rows rows, compressed as comp.
func encodePage(data []float32, rb, rows int, t dtype.Type, comp int) ([][]byte, int) {
	raw := make([]byte, len(data)*t.Size())
	clipped := dtype.Encode(raw, data, t, binary.LittleEndian)
	var strips [][]byte
	for off := 0; off < len(raw); off += rows * rb {
		strip := raw[off:min(off+rows*rb, len(raw))]
		if comp == Deflate {
			var b bytes.Buffer
			zw := zlib.NewWriter(&b)
			zw.Write(strip)
			zw.Close()
			strip = b.Bytes()
		}
		strips = append(strips, strip)
	}
	return strips, clipped
}

// pageFields lists the tags of one page, sorted by tag as TIFF requires.
func pageFields(s *Stack, t dtype.Type, comp, rows int, offsets, counts []uint32, first bool) []field {
	bits, format := make([]uint16, s.C), make([]uint16, s.C)
	for i := range s.C {
		bits[i] = uint16(8 * t.Size())
		format[i] = 1
		switch {
		case t == dtype.Int8 || t == dtype.Int16:
			format[i] = 2
		case !t.Integer():
			format[i] = 3
		}
	}
	photometric := uint16(1)
	switch {
	case s.C == 3:
		photometric = 2
	case s.Meta.WhiteIsZero:
		photometric = 0
	}
	xres, yres, unit := s.Meta.XResolution, s.Meta.YResolution, uint16(s.Meta.ResolutionUnit)
	if xres[1] == 0 || yres[1] == 0 {
		xres, yres, unit = [2]uint32{1, 1}, [2]uint32{1, 1}, 1
	} else if unit < 1 || unit > 3 {
		unit = 2
	}
	fs := []field{
		longs(tNewSubfileType, 0),
		longs(tImageWidth, uint32(s.W)),
		longs(tImageLength, uint32(s.H)),
		shorts(tBitsPerSample, bits...),
		shorts(tCompression, uint16(comp)),
		shorts(tPhotometric, photometric),
		longs(tStripOffsets, offsets...),
		shorts(tSamplesPerPixel, uint16(s.C)),
		longs(tRowsPerStrip, uint32(rows)),
		longs(tStripByteCounts, counts...),
		rational(tXResolution, xres),
		rational(tYResolution, yres),
		shorts(tPlanarConfig, 1),
		shorts(tResolutionUnit, unit),
		asciiField(tSoftware, "FlowDiff-Go"),
		shorts(tSampleFormat, format...),
	}
	if first && s.Meta.Description != "" {
		fs = append(fs, asciiField(tDescription, s.Meta.Description))
	}
	slices.SortFunc(fs, func(a, b field) int { return int(a.tag) - int(b.tag) })
	return fs
}

func shorts(tag uint16, v ...uint16) field {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return field{tag, typeShort, uint32(len(v)), b}
}

func longs(tag uint16, v ...uint32) field {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return field{tag, typeLong, uint32(len(v)), b}
}

func rational(tag uint16, r [2]uint32) field {
	f := longs(tag, r[0], r[1])
	f.typ, f.count = typeRational, 1
	return f
}

func asciiField(tag uint16, s string) field {
	b := []byte(strings.ReplaceAll(s, "\x00", "") + "\x00")
	return field{tag, typeASCII, uint32(len(b)), b}
}

// buildIFD encodes an IFD placed at off: the entry count, the entries, the next-IFD offset,
// then the values that do not fit in an entry, each at an even offset.
func buildIFD(off int64, fields []field, next uint32) []byte {
	head := 2 + 12*len(fields) + 4
	b := make([]byte, head, head+256)
	binary.LittleEndian.PutUint16(b, uint16(len(fields)))
	for i, f := range fields {
		e := b[2+12*i:]
		binary.LittleEndian.PutUint16(e, f.tag)
		binary.LittleEndian.PutUint16(e[2:], f.typ)
		binary.LittleEndian.PutUint32(e[4:], f.count)
		if len(f.data) <= 4 {
			copy(e[8:12], f.data)
			continue
		}
		binary.LittleEndian.PutUint32(e[8:], uint32(off+int64(len(b))))
		b = append(b, f.data...)
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[head-4:], next)
	return b
}
