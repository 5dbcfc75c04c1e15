package mrc

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
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

// hb builds an MRC header by hand, field by field at the MRC2014 byte offsets, independently
// of the package's own marshal.
type hb struct {
	b []byte
	o binary.ByteOrder
}

// newHB starts a header of the given dimensions and mode with 'MAP ', the machine stamp of
// o and axes (1, 2, 3).
func newHB(o binary.ByteOrder, nx, ny, nz, mode int32) *hb {
	h := &hb{b: make([]byte, 1024), o: o}
	h.i32(0, nx).i32(4, ny).i32(8, nz).i32(12, mode).i32(64, 1).i32(68, 2).i32(72, 3)
	h.str(208, "MAP ")
	if o == le {
		h.str(212, "\x44\x44\x00\x00")
	} else {
		h.str(212, "\x11\x11\x00\x00")
	}
	return h
}

func (h *hb) i32(off int, v int32) *hb   { h.o.PutUint32(h.b[off:], uint32(v)); return h }
func (h *hb) f32(off int, v float32) *hb { h.o.PutUint32(h.b[off:], math.Float32bits(v)); return h }
func (h *hb) str(off int, s string) *hb  { copy(h.b[off:], s); return h }

// file returns the header followed by the extended header and the data bytes.
func (h *hb) file(ext, data []byte) []byte {
	return append(append(slices.Clone(h.b), ext...), data...)
}

// samples stores v as t in byte order o.
func samples(o binary.ByteOrder, t dtype.Type, v ...float32) []byte {
	b := make([]byte, len(v)*t.Size())
	dtype.Encode(b, v, t, o)
	return b
}

// TestDecodeModes reads each mode in both byte orders from hand-made files of 2x2x2 samples;
// the expected values are those written (e.g. int8 0x80 is -128).
func TestDecodeModes(t *testing.T) {
	vals := map[int32][]float32{
		0:  {-128, -1, 0, 1, 2, 3, 100, 127},
		1:  {-32768, -2, 0, 1, 2, 3, 4095, 32767},
		2:  {-1.5, 0, 1e-3, 2, 3.25, 4, 5, 1e30},
		6:  {0, 1, 2, 3, 4095, 4096, 40000, 65535},
		12: {-2, -1, 0, 0.0999755859375, 1, 2, 1000, 65504},
	}
	for mode, v := range vals {
		for _, o := range []binary.ByteOrder{le, be} {
			typ := modes[mode]
			f := newHB(o, 2, 2, 2, mode).file(nil, samples(o, typ, v...))
			h, data, err := Decode(bytes.NewReader(f))
			if err != nil {
				t.Errorf("mode %d %v: %v", mode, o, err)
				continue
			}
			if !slices.Equal(data, v) || h.NX != 2 || h.NZ != 2 || len(h.Notes) != 0 {
				t.Errorf("mode %d %v: %v, header %+v; want %v", mode, o, data, h, v)
			}
		}
	}
}

// TestDecodeHeaderFields reads every field from its MRC2014 offset.
func TestDecodeHeaderFields(t *testing.T) {
	ext := []byte("0123456789abcdef")
	hh := newHB(be, 3, 2, 1, 2).i32(16, -5).i32(20, 6).i32(24, 7).i32(28, 3).i32(32, 2).i32(36, 1).
		f32(40, 4.2).f32(44, 2.8).f32(48, 1.4).f32(52, 90).f32(56, 90).f32(60, 120).
		f32(76, -1).f32(80, 5).f32(84, 2).i32(88, 0).i32(92, int32(len(ext))).str(104, "SERI").i32(108, 20140).
		f32(196, 10).f32(200, 20).f32(204, 30).f32(216, 1.25).i32(220, 2).str(224, "first label").str(304, "second")
	f := hh.file(ext, samples(be, dtype.Float32, 1, 2, 3, 4, 5, 6))
	h, data, err := Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	want := Header{NX: 3, NY: 2, NZ: 1, Mode: 2, NXStart: -5, NYStart: 6, NZStart: 7, MX: 3, MY: 2, MZ: 1,
		CellA: [3]float32{4.2, 2.8, 1.4}, CellB: [3]float32{90, 90, 120}, MapC: 1, MapR: 2, MapS: 3,
		DMin: -1, DMax: 5, DMean: 2, NSymBT: 16, ExtType: "SERI", NVersion: 20140,
		Origin: [3]float32{10, 20, 30}, MachST: [4]byte{0x11, 0x11}, RMS: 1.25,
		Labels: []string{"first label", "second"}, ExtHeader: ext, ByteOrder: "big"}
	got := *h
	got.Extra = nil
	if !equalHeaders(&got, &want) || !slices.Equal(data, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("got  %+v %v\nwant %+v", got, data, want)
	}
	if v := h.VoxelSize(); math.Abs(v[0]-1.4) > 1e-6 || math.Abs(v[1]-1.4) > 1e-6 || math.Abs(v[2]-1.4) > 1e-6 {
		t.Errorf("voxel size %v, want 1.4 (4.2/3, 2.8/2, 1.4/1) within 1e-6", v)
	}
}

func equalHeaders(a, b *Header) bool {
	return a.NX == b.NX && a.NY == b.NY && a.NZ == b.NZ && a.Mode == b.Mode && a.NXStart == b.NXStart &&
		a.NYStart == b.NYStart && a.NZStart == b.NZStart && a.MX == b.MX && a.MY == b.MY && a.MZ == b.MZ &&
		a.CellA == b.CellA && a.CellB == b.CellB && a.MapC == b.MapC && a.MapR == b.MapR && a.MapS == b.MapS &&
		a.DMin == b.DMin && a.DMax == b.DMax && a.DMean == b.DMean && a.ISPG == b.ISPG && a.NSymBT == b.NSymBT &&
		a.ExtType == b.ExtType && a.NVersion == b.NVersion && a.Origin == b.Origin && a.MachST == b.MachST &&
		a.RMS == b.RMS && slices.Equal(a.Labels, b.Labels) && bytes.Equal(a.ExtHeader, b.ExtHeader) &&
		a.ByteOrder == b.ByteOrder && slices.Equal(a.Notes, b.Notes)
}

// TestTolerated: headers real files have are read, with a note instead of an error.
func TestTolerated(t *testing.T) {
	data := samples(le, dtype.Float32, 1, 2, 3, 4)
	cases := []struct {
		name  string
		file  []byte
		order string
		note  string
	}{
		// As relion31.mrcs of the shared cryo-EM data: no 'MAP ', stamp 0.
		{"no MAP tag, zero stamp", newHB(le, 2, 2, 1, 2).str(208, "\x00\x00\x00\x00").str(212, "\x00\x00\x00\x00").file(nil, data), "little", "no 'MAP ' tag"},
		{"zero stamp, big-endian data", newHB(be, 2, 2, 1, 2).str(212, "\x00\x00\x00\x00").file(nil, samples(be, dtype.Float32, 1, 2, 3, 4)), "big", "big-endian, which gives"},
		{"stamp 44 41", newHB(le, 2, 2, 1, 2).str(212, "\x44\x41\x00\x00").file(nil, data), "little", ""},
		{"permuted axes", newHB(le, 2, 2, 1, 2).i32(64, 2).i32(68, 1).file(nil, data), "little", "file order"},
		{"zero axes", newHB(le, 2, 2, 1, 2).i32(64, 0).i32(68, 0).i32(72, 0).file(nil, data), "little", "not a permutation"},
		{"nlabl 99", newHB(le, 2, 2, 1, 2).i32(220, 99).str(224, "a").file(nil, data), "little", "NLABL is 99"},
		{"trailing bytes", newHB(le, 2, 2, 1, 2).file(nil, append(slices.Clone(data), 0, 0)), "little", "2 bytes after the data"},
	}
	for _, c := range cases {
		h, got, err := Decode(bytes.NewReader(c.file))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		notes := strings.Join(h.Notes, "; ")
		if !slices.Equal(got, []float32{1, 2, 3, 4}) || h.ByteOrder != c.order || !strings.Contains(notes, c.note) || (c.note == "") != (notes == "") {
			t.Errorf("%s: %v, %s, notes %q; want note %q", c.name, got, h.ByteOrder, notes, c.note)
		}
	}
}

// onlyReader hides the length of a reader.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestDecodeErrors: corrupt, truncated and absurd headers fail with an error naming the
// problem, allocating little whatever they declare.
func TestDecodeErrors(t *testing.T) {
	data := samples(le, dtype.Float32, 1, 2, 3, 4)
	cases := []struct {
		name   string
		file   []byte
		want   string
		stream bool
	}{
		{"empty", nil, "header: 0 of 1024 bytes", false},
		{"short header", newHB(le, 2, 2, 1, 2).b[:500], "header: 500 of 1024", false},
		{"negative nx", newHB(le, -2, 2, 1, 2).file(nil, data), "must be positive", false},
		{"zero nz", newHB(le, 2, 2, 0, 2).file(nil, data), "must be positive", false},
		{"complex mode", newHB(le, 2, 2, 1, 4).file(nil, data), "mode 4 (complex float32) not supported", false},
		{"unknown mode", newHB(le, 2, 2, 1, 7).file(nil, data), "mode 7 not supported", false},
		{"garbage, unknown stamp", bytes.Repeat([]byte{0xff}, 2048), "neither byte order", false},
		{"negative nsymbt", newHB(le, 2, 2, 1, 2).i32(92, -8).file(nil, data), "NSYMBT = -8 is negative", false},
		{"nsymbt past the end", newHB(le, 2, 2, 1, 2).i32(92, 1<<30).file(nil, data), "NSYMBT = 1073741824 bytes is longer", false},
		{"nsymbt past the end, stream", newHB(le, 2, 2, 1, 2).i32(92, 1<<30).file(nil, data), "extended header of 1073741824 bytes", true},
		{"truncated data", newHB(le, 2, 2, 2, 2).file(nil, data), "need 32 bytes after the 0-byte extended header, file has 16: truncated", false},
		{"absurd dims", newHB(le, 1<<30, 1<<30, 1<<30, 2).file(nil, data), "exceed the limit", false},
		{"4 GiB declared", newHB(le, 1<<15, 1<<15, 1, 2).file(nil, data), "truncated", false},
		{"4 GiB declared, stream", newHB(le, 1<<15, 1<<15, 1, 2).file(nil, data), "file ends after 4", true},
	}
	for _, c := range cases {
		var err error
		alloc := fmttest.Allocated(func() {
			var r io.Reader = bytes.NewReader(c.file)
			if c.stream {
				r = onlyReader{r}
			}
			_, _, err = Decode(r)
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		if alloc > 1<<20 {
			t.Errorf("%s: rejecting a %d-byte file allocated %d bytes", c.name, len(c.file), alloc)
		}
	}
}
