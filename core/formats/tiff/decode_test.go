package tiff

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
)

var (
	le = binary.LittleEndian
	be = binary.BigEndian
)

// packBitsSpec is the example of TIFF 6.0 section 9 (PackBits): packed bytes and the 24
// bytes they stand for.
var (
	packBitsSpec   = []byte{0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA}
	unpackBitsSpec = []byte{0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00,
		0x2A, 0x22, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
)

func bytesToFloats(b []byte) []float32 {
	f := make([]float32, len(b))
	for i, v := range b {
		f[i] = float32(v)
	}
	return f
}

// TestDecodeHandMade decodes files built by hand (builder_test.go); the expected values are
// the samples written into them, so each case checks one layout, type or coding.
func TestDecodeHandMade(t *testing.T) {
	f32 := func(o binary.ByteOrder, v ...float32) []byte {
		b := make([]byte, 4*len(v))
		dtype.Encode(b, v, dtype.Float32, o)
		return b
	}
	cases := []struct {
		name        string
		file        []byte
		w, h, c, n  int
		typ         dtype.Type
		want        []float32
		compression int
		predictor   int
	}{
		{"uint8 LE one strip", build(le, tpage{gray(3, 2, 8, 1), [][]byte{{0, 1, 2, 253, 254, 255}}}),
			3, 2, 1, 1, dtype.Uint8, []float32{0, 1, 2, 253, 254, 255}, None, 1},
		{"uint16 BE two strips", build(be, tpage{gray(2, 3, 16, 1, long(tRowsPerStrip, 2)),
			[][]byte{words16(be, 0, 4095, 256, 65535), words16(be, 7, 8)}}),
			2, 3, 1, 1, dtype.Uint16, []float32{0, 4095, 256, 65535, 7, 8}, None, 1},
		{"int16 LE", build(le, tpage{gray(2, 1, 16, 2), [][]byte{words16(le, 0xfffe, 0x8000)}}),
			2, 1, 1, 1, dtype.Int16, []float32{-2, -32768}, None, 1},
		{"float32 BE", build(be, tpage{gray(2, 1, 32, 3), [][]byte{f32(be, 1.5, -1e-3)}}),
			2, 1, 1, 1, dtype.Float32, []float32{1.5, -1e-3}, None, 1},
		{"float16 LE", build(le, tpage{gray(2, 1, 16, 3), [][]byte{words16(le, 0x3c00, 0xc000)}}),
			2, 1, 1, 1, dtype.Float16, []float32{1, -2}, None, 1},
		{"RGB uint8", build(le, tpage{[]tf{long(tImageWidth, 2), long(tImageLength, 1),
			short(tBitsPerSample, 8, 8, 8), short(tSamplesPerPixel, 3), short(tPhotometric, 2)},
			[][]byte{{1, 2, 3, 4, 5, 6}}}),
			2, 1, 3, 1, dtype.Uint8, []float32{1, 2, 3, 4, 5, 6}, None, 1},
		{"three pages", build(le,
			tpage{gray(2, 1, 8, 1), [][]byte{{1, 2}}},
			tpage{gray(2, 1, 8, 1), [][]byte{{3, 4}}},
			tpage{gray(2, 1, 8, 1), [][]byte{{5, 6}}}),
			2, 1, 1, 3, dtype.Uint8, []float32{1, 2, 3, 4, 5, 6}, None, 1},
		{"thumbnail skipped", build(le,
			tpage{gray(2, 1, 8, 1), [][]byte{{1, 2}}},
			tpage{gray(1, 1, 8, 1, long(tNewSubfileType, 1)), [][]byte{{9}}}),
			2, 1, 1, 1, dtype.Uint8, []float32{1, 2}, None, 1},
		{"packbits (TIFF 6.0 example)", build(be, tpage{gray(8, 3, 8, 1, short(tCompression, PackBits)), [][]byte{packBitsSpec}}),
			8, 3, 1, 1, dtype.Uint8, bytesToFloats(unpackBitsSpec), PackBits, 1},
		{"lzw", build(le, tpage{gray(5, 1, 8, 1, short(tCompression, LZW)), [][]byte{lzwLiteral([]byte{10, 20, 30, 40, 250})}}),
			5, 1, 1, 1, dtype.Uint8, []float32{10, 20, 30, 40, 250}, LZW, 1},
		{"deflate, old code 32946", build(be, tpage{gray(2, 2, 16, 1, short(tCompression, deflateOld)), [][]byte{deflate(words16(be, 1, 2, 3, 4))}}),
			2, 2, 1, 1, dtype.Uint16, []float32{1, 2, 3, 4}, Deflate, 1},
		// Predictor 2: 100, 50, 65535 stored as 100, 50-100, 65535-50 (mod 2^16).
		{"deflate, horizontal predictor", build(le, tpage{gray(3, 1, 16, 1, short(tCompression, Deflate), short(tPredictor, 2)),
			[][]byte{deflate(words16(le, 100, 65486, 65485))}}),
			3, 1, 1, 1, dtype.Uint16, []float32{100, 50, 65535}, Deflate, 2},
		// Predictor 3: 1.0 (3f800000) and 2.0 (40000000) as byte planes 3f 40 | 80 00 | 00 00 |
		// 00 00, then bytewise differences 3f 01 40 80 00 00 00 00; whatever the byte order.
		{"lzw, float predictor, LE file", build(le, tpage{gray(2, 1, 32, 3, short(tCompression, LZW), short(tPredictor, 3)),
			[][]byte{lzwLiteral([]byte{0x3f, 0x01, 0x40, 0x80, 0, 0, 0, 0})}}),
			2, 1, 1, 1, dtype.Float32, []float32{1, 2}, LZW, 3},
		{"deflate, float predictor, BE file", build(be, tpage{gray(2, 1, 32, 3, short(tCompression, Deflate), short(tPredictor, 3)),
			[][]byte{deflate([]byte{0x3f, 0x01, 0x40, 0x80, 0, 0, 0, 0})}}),
			2, 1, 1, 1, dtype.Float32, []float32{1, 2}, Deflate, 3},
		{"no StripByteCounts, one uncompressed strip", build(le, tpage{gray(2, 1, 8, 1, tf{tag: tStripByteCounts}), [][]byte{{42, 43}}}),
			2, 1, 1, 1, dtype.Uint8, []float32{42, 43}, None, 1},
	}
	for _, c := range cases {
		s, err := Decode(bytes.NewReader(c.file))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.W != c.w || s.H != c.h || s.C != c.c || s.Pages != c.n || s.Type != c.typ || !slices.Equal(s.Data, c.want) {
			t.Errorf("%s: got %dx%dx%d x%d %v %v, want %dx%dx%d x%d %v %v", c.name, s.W, s.H, s.C, s.Pages, s.Type, s.Data, c.w, c.h, c.c, c.n, c.typ, c.want)
		}
		cfg, err := DecodeConfig(bytes.NewReader(c.file))
		if err != nil || cfg.Width != c.w || cfg.Pages != c.n || cfg.Type != c.typ || cfg.Compression != c.compression || cfg.Predictor != c.predictor {
			t.Errorf("%s: config %+v, %v", c.name, cfg, err)
		}
	}
}

// TestDecodeErrors: corrupt, truncated, absurd and unsupported files each fail with an error
// naming the problem, and rejecting them allocates little whatever their headers claim.
func TestDecodeErrors(t *testing.T) {
	ok := tpage{gray(2, 2, 8, 1), [][]byte{{1, 2, 3, 4}}}
	good := build(le, ok)
	loop := slices.Clone(good)
	le.PutUint32(loop[len(loop)-4:], le.Uint32(loop[4:])) // the last IFD points back at the first
	shared := make([]tpage, 50)                           // 50 pages sharing the first page's 64 KiB strip at offset 8
	shared[0] = tpage{gray(256, 256, 8, 1), [][]byte{make([]byte, 65536)}}
	for i := 1; i < len(shared); i++ {
		shared[i] = tpage{gray(256, 256, 8, 1, long(tStripOffsets, 8), long(tStripByteCounts, 65536)), nil}
	}
	sharedFile := build(le, shared...)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header"},
		{"not tiff", []byte("\x89PNG\r\n\x1a\n...."), "byte order mark"},
		{"bad version", append([]byte("II\x2b\x01"), good[4:]...), "version 299"},
		{"BigTIFF", append([]byte("II\x2b\x00"), good[4:]...), "BigTIFF"},
		{"IFD outside file", append(good[:4:4], 0xff, 0xff, 0xff, 0x7f), "outside"},
		{"IFD loop", loop, "loops back"},
		{"truncated IFD", good[:9], "outside"},
		{"strip beyond the end", build(le, tpage{gray(2, 2, 8, 1, long(tStripOffsets, 1<<20), long(tStripByteCounts, 4)), nil}), "strip 0 of 4 bytes at offset 1048576 lies outside"},
		{"zero width", build(le, tpage{gray(0, 2, 8, 1), [][]byte{{1}}}), "must be present and positive"},
		{"absurd size, uncompressed", build(le, tpage{gray(40000, 40000, 16, 1), [][]byte{{1, 2}}}), "strip 0 holds 2 bytes"},
		{"absurd size, compressed", build(le, tpage{gray(65535, 65535, 8, 1, short(tCompression, Deflate)), [][]byte{deflate([]byte{1})}}), "exceeds the limit"},
		{"impossible ratio", build(le, tpage{gray(1000, 1000, 8, 1, short(tCompression, LZW)), [][]byte{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}), "cannot decode to the 1000000 bytes"},
		{"compressed strip short", build(le, tpage{gray(4, 4, 8, 1, short(tCompression, Deflate)), [][]byte{deflate([]byte{1, 2, 3})}}), "decodes to 3 bytes, its rows need 16"},
		{"packbits overrun", build(le, tpage{gray(4, 1, 8, 1, short(tCompression, PackBits)), [][]byte{{0x05, 1, 2}}}), "overruns"},
		{"strip offsets count", build(le, tpage{gray(2, 4, 8, 1, long(tRowsPerStrip, 1)), [][]byte{{1, 2}}}), "need 4 StripOffsets, found 1"},
		{"tiled", build(le, tpage{gray(2, 2, 8, 1, long(tTileWidth, 16), long(tTileOffsets, 8)), nil}), "tiled TIFF not supported"},
		{"palette", build(le, tpage{withTag(gray(2, 2, 8, 1), short(tPhotometric, 3)), ok.strips}), "palette"},
		{"four samples", build(le, tpage{gray(2, 2, 8, 1, short(tSamplesPerPixel, 4)), ok.strips}), "4 samples per pixel"},
		{"12-bit", build(le, tpage{gray(2, 2, 12, 1), ok.strips}), "12 bits per sample"},
		{"uint32", build(le, tpage{gray(1, 1, 32, 1), [][]byte{{1, 2, 3, 4}}}), "32 bits per sample with sample format 1"},
		{"mixed samples", build(le, tpage{[]tf{long(tImageWidth, 1), long(tImageLength, 1), short(tBitsPerSample, 8, 16, 8),
			short(tSamplesPerPixel, 3), short(tPhotometric, 2)}, [][]byte{{1, 2, 3, 4}}}), "differs between samples"},
		{"planar RGB", build(le, tpage{[]tf{long(tImageWidth, 1), long(tImageLength, 1), short(tBitsPerSample, 8, 8, 8),
			short(tSamplesPerPixel, 3), short(tPhotometric, 2), short(tPlanarConfig, 2)}, [][]byte{{1, 2, 3}}}), "planar configuration 2"},
		{"JPEG", build(le, tpage{gray(2, 2, 8, 1, short(tCompression, 7)), ok.strips}), "compression 7 (JPEG) not supported"},
		{"float predictor on ints", build(le, tpage{gray(2, 2, 8, 1, short(tCompression, LZW), short(tPredictor, 3)), ok.strips}), "predictor 3 does not apply to uint8"},
		{"pages differ", build(le, ok, tpage{gray(3, 1, 8, 1), [][]byte{{1, 2, 3}}}), "page 1 is 3x1x1 uint8 but page 0 is 2x2x1 uint8"},
		{"shared strips", sharedFile, "more data than"},
	}
	for _, c := range cases {
		var err error
		alloc := fmttest.Allocated(func() { _, err = Decode(bytes.NewReader(c.file)) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		if limit := uint64(256<<10 + 8*len(c.file)); alloc > limit {
			t.Errorf("%s: rejecting a %d-byte file allocated %d bytes (limit %d)", c.name, len(c.file), alloc, limit)
		}
	}
}

// TestHugeTagCount: an entry that claims 2^30 strip offsets in a small file is refused
// before its values are read.
func TestHugeTagCount(t *testing.T) {
	f := build(le, tpage{gray(2, 2, 8, 1), [][]byte{{1, 2, 3, 4}}})
	// The StripOffsets entry is the 6th (tags sorted: 256 257 258 262 273 ...): set its count.
	ifd := int(le.Uint32(f[4:]))
	for i := range int(le.Uint16(f[ifd:])) {
		e := f[ifd+2+12*i:]
		if le.Uint16(e) == tStripOffsets {
			le.PutUint32(e[4:], 1<<30)
		}
	}
	var err error
	alloc := fmttest.Allocated(func() { _, err = Decode(bytes.NewReader(f)) })
	if err == nil || !strings.Contains(err.Error(), "need 1 StripOffsets, found 1073741824") || alloc > 256<<10 {
		t.Errorf("err = %v after allocating %d bytes", err, alloc)
	}
}

// countingReader counts the bytes read through ReadAt.
type countingReader struct {
	*bytes.Reader
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Reader.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestDecodeConfigReadsHeadersOnly: the configuration of a 20-page stack of 64 KiB pages
// comes from reading a few hundred bytes per page, not the pixels.
func TestDecodeConfigReadsHeadersOnly(t *testing.T) {
	pages := make([]tpage, 20)
	for i := range pages {
		pages[i] = tpage{gray(256, 128, 16, 1, tf{tag: tDescription, typ: typeASCII, text: "ImageJ=1.53t"}), [][]byte{make([]byte, 256*128*2)}}
	}
	cr := &countingReader{Reader: bytes.NewReader(build(be, pages...))}
	cfg, err := DecodeConfig(cr)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Width: 256, Height: 128, Pages: 20, SamplesPerPixel: 1, BitsPerSample: 16, SampleFormat: 1,
		Type: dtype.Uint16, Compression: None, Predictor: 1, Photometric: 1, ByteOrder: "MM"}
	if cfg != want {
		t.Errorf("config %+v, want %+v", cfg, want)
	}
	if cr.n > 20*300 {
		t.Errorf("DecodeConfig read %d bytes of a %d-byte file", cr.n, cr.Size())
	}
}
