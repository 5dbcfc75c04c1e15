package tiff

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"slices"
)

// This file builds TIFF files by hand for the decoder tests, independently of Encode: any
// byte order, any tags (including wrong ones), strips placed before their IFD.

// tf is one hand-written tag: integer values (SHORT, LONG, BYTE; RATIONAL as pairs) or text.
type tf struct {
	tag, typ uint16
	vals     []uint64
	text     string
}

// tpage is one page: its tags and its strips (StripOffsets and StripByteCounts are added
// unless the tags already have them; a tag of type 0 is left out).
type tpage struct {
	tags   []tf
	strips [][]byte
}

// gray returns the tags of a one-sample image of w x h with bits and sample format.
func gray(w, h, bits, format int, extra ...tf) []tf {
	return append([]tf{
		{tag: tImageWidth, typ: typeLong, vals: []uint64{uint64(w)}},
		{tag: tImageLength, typ: typeLong, vals: []uint64{uint64(h)}},
		{tag: tBitsPerSample, typ: typeShort, vals: []uint64{uint64(bits)}},
		{tag: tPhotometric, typ: typeShort, vals: []uint64{1}},
		{tag: tSampleFormat, typ: typeShort, vals: []uint64{uint64(format)}},
	}, extra...)
}

// short and long make one-value tags.
func short(tag uint16, v ...uint64) tf { return tf{tag: tag, typ: typeShort, vals: v} }
func long(tag uint16, v ...uint64) tf  { return tf{tag: tag, typ: typeLong, vals: v} }

// withTag returns tags with tag t replaced by (or, if absent, extended with) f.
func withTag(tags []tf, f tf) []tf {
	out := slices.DeleteFunc(slices.Clone(tags), func(x tf) bool { return x.tag == f.tag })
	return append(out, f)
}

// build lays out the pages: header, then per page its strips and its IFD with out-of-line
// values; IFDs are chained in order.
func build(o binary.ByteOrder, pages ...tpage) []byte {
	b := make([]byte, 8)
	if o == binary.LittleEndian {
		copy(b, "II")
	} else {
		copy(b, "MM")
	}
	o.PutUint16(b[2:], 42)
	var ifdPos []int
	var nextPtr []int
	for _, p := range pages {
		var offs, counts []uint64
		for _, s := range p.strips {
			offs = append(offs, uint64(len(b)))
			counts = append(counts, uint64(len(s)))
			b = append(b, s...)
		}
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
		tags := slices.Clone(p.tags)
		if !slices.ContainsFunc(tags, func(x tf) bool { return x.tag == tStripOffsets }) && len(p.strips) > 0 {
			tags = append(tags, long(tStripOffsets, offs...))
		}
		if !slices.ContainsFunc(tags, func(x tf) bool { return x.tag == tStripByteCounts }) && len(p.strips) > 0 {
			tags = append(tags, long(tStripByteCounts, counts...))
		}
		tags = slices.DeleteFunc(tags, func(x tf) bool { return x.typ == 0 }) // typ 0: omit the tag
		slices.SortStableFunc(tags, func(x, y tf) int { return int(x.tag) - int(y.tag) })
		pos := len(b)
		ifdPos = append(ifdPos, pos)
		head := 2 + 12*len(tags) + 4
		ifd := make([]byte, head)
		o.PutUint16(ifd, uint16(len(tags)))
		for i, t := range tags {
			e := ifd[2+12*i:]
			val, count := encodeVals(o, t)
			o.PutUint16(e, t.tag)
			o.PutUint16(e[2:], t.typ)
			o.PutUint32(e[4:], count)
			if len(val) <= 4 {
				copy(e[8:12], val)
			} else {
				o.PutUint32(e[8:], uint32(pos+len(ifd)))
				ifd = append(ifd, val...)
				if len(ifd)%2 == 1 {
					ifd = append(ifd, 0)
				}
			}
		}
		nextPtr = append(nextPtr, pos+head-4)
		b = append(b, ifd...)
	}
	if len(ifdPos) > 0 {
		o.PutUint32(b[4:], uint32(ifdPos[0]))
	}
	for k := 0; k+1 < len(ifdPos); k++ {
		o.PutUint32(b[nextPtr[k]:], uint32(ifdPos[k+1]))
	}
	return b
}

func encodeVals(o binary.ByteOrder, t tf) ([]byte, uint32) {
	switch t.typ {
	case typeASCII:
		return []byte(t.text + "\x00"), uint32(len(t.text) + 1)
	case typeByte, typeUndefined:
		v := make([]byte, len(t.vals))
		for i, x := range t.vals {
			v[i] = byte(x)
		}
		return v, uint32(len(v))
	case typeShort:
		v := make([]byte, 2*len(t.vals))
		for i, x := range t.vals {
			o.PutUint16(v[2*i:], uint16(x))
		}
		return v, uint32(len(t.vals))
	case typeRational:
		v := make([]byte, 4*len(t.vals))
		for i, x := range t.vals {
			o.PutUint32(v[4*i:], uint32(x))
		}
		return v, uint32(len(t.vals) / 2)
	}
	v := make([]byte, 4*len(t.vals))
	for i, x := range t.vals {
		o.PutUint32(v[4*i:], uint32(x))
	}
	return v, uint32(len(t.vals))
}

// words16 stores vals as 16-bit words in byte order o.
func words16(o binary.ByteOrder, vals ...uint16) []byte {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		o.PutUint16(b[2*i:], v)
	}
	return b
}

// deflate compresses b with zlib.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// lzwLiteral encodes b as a TIFF LZW stream that uses no string table: Clear (256), one
// 9-bit code per byte, EndOfInformation (257), packed most significant bit first (TIFF 6.0
// section 13). Valid for fewer than 253 bytes, before the code width would grow.
func lzwLiteral(b []byte) []byte {
	codes := []uint16{256}
	for _, c := range b {
		codes = append(codes, uint16(c))
	}
	codes = append(codes, 257)
	var out []byte
	var acc uint32
	var nbits uint
	for _, c := range codes {
		acc = acc<<9 | uint32(c)
		nbits += 9
		for nbits >= 8 {
			out = append(out, byte(acc>>(nbits-8)))
			nbits -= 8
		}
	}
	if nbits > 0 {
		out = append(out, byte(acc<<(8-nbits)))
	}
	return out
}
