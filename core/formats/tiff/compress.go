package tiff

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/image/tiff/lzw"
)

var bigEndian = binary.BigEndian

// maxRatio bounds how many bytes one compressed byte can stand for: an LZW code of at least
// 9 bits yields at most 4096 bytes (about 3641 per byte), Deflate at most about 1032, and
// PackBits 64.
const maxRatio = 4096

// decompress decodes one strip of compressed data into exactly need bytes. A strip that
// could not hold need bytes even at the best ratio of its coding is refused before any
// output buffer is allocated, so the output costs at most maxRatio times the strip.
func decompress(c int, src []byte, need int64) ([]byte, error) {
	if need > maxRatio*int64(len(src)) {
		return nil, fmt.Errorf("compressed strip of %d bytes cannot decode to the %d bytes its rows need", len(src), need)
	}
	var rd io.Reader
	switch c {
	case PackBits:
		return unpackBits(src, need)
	case LZW:
		lr := lzw.NewReader(bytes.NewReader(src), lzw.MSB, 8)
		defer lr.Close()
		rd = lr
	case Deflate:
		zr, err := zlib.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("compression %d not supported", c)
	}
	out := make([]byte, need)
	if n, err := io.ReadFull(rd, out); err != nil {
		return nil, fmt.Errorf("compressed strip of %d bytes decodes to %d bytes, its rows need %d: %w", len(src), n, need, err)
	}
	return out, nil
}

// unpackBits decodes PackBits (TIFF 6.0 section 9): a header byte n in 0..127 copies the next
// n+1 bytes, n in -127..-1 repeats the next byte 1-n times, and -128 is skipped. Decoding
// stops once need bytes are out.
func unpackBits(src []byte, need int64) ([]byte, error) {
	out := make([]byte, 0, need)
	for i := 0; i < len(src) && int64(len(out)) < need; {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0:
			if i+n+1 > len(src) {
				return nil, fmt.Errorf("packbits: literal run of %d bytes at %d overruns the %d-byte strip", n+1, i-1, len(src))
			}
			out = append(out, src[i:i+n+1]...)
			i += n + 1
		case n != -128:
			if i >= len(src) {
				return nil, errors.New("packbits: repeat run at the end of the strip has no byte")
			}
			for range 1 - n {
				out = append(out, src[i])
			}
			i++
		}
	}
	if int64(len(out)) < need {
		return nil, fmt.Errorf("packbits strip of %d bytes decodes to %d bytes, its rows need %d", len(src), len(out), need)
	}
	return out[:need], nil
}

// undoHorizontal reverses predictor 2 (TIFF 6.0 section 14): within each row, every sample
// after the first pixel was stored as its difference from the same sample of the pixel
// before, modulo 2^bits, in the file's byte order. Float samples are differenced as
// unsigned integers of their width, as libtiff does.
func undoHorizontal(raw []byte, rowBytes, spp, size int, o binary.ByteOrder) {
	for r := 0; r+rowBytes <= len(raw); r += rowBytes {
		row := raw[r : r+rowBytes]
		n := rowBytes / size
		switch size {
		case 1:
			for i := spp; i < n; i++ {
				row[i] += row[i-spp]
			}
		case 2:
			for i := spp; i < n; i++ {
				o.PutUint16(row[2*i:], o.Uint16(row[2*i:])+o.Uint16(row[2*(i-spp):]))
			}
		case 4:
			for i := spp; i < n; i++ {
				o.PutUint32(row[4*i:], o.Uint32(row[4*i:])+o.Uint32(row[4*(i-spp):]))
			}
		case 8:
			for i := spp; i < n; i++ {
				o.PutUint64(row[8*i:], o.Uint64(row[8*i:])+o.Uint64(row[8*(i-spp):]))
			}
		}
	}
}

// undoFloat reverses predictor 3 (Adobe's floating-point predictor, TIFF Technical Note 3):
// each row holds the bytes of its samples split into planes, most significant byte first,
// then differenced bytewise with a stride of spp. It leaves each sample's bytes in
// big-endian order, whatever the file's byte order (as libtiff's fpAcc does on a big-endian
// machine, and imagecodecs' floatpred_decode). libtiff 4.5 writes the planes of big-endian
// files least significant byte first, and reads those files back wrongly itself (tiffcp -B
// -c zip:3 of 1.0 reads back as 4.6e-41); such files read wrongly here too.
func undoFloat(raw []byte, rowBytes, spp, size int) {
	tmp := make([]byte, rowBytes)
	wc := rowBytes / size
	for r := 0; r+rowBytes <= len(raw); r += rowBytes {
		row := raw[r : r+rowBytes]
		for i := spp; i < rowBytes; i++ {
			row[i] += row[i-spp]
		}
		copy(tmp, row)
		for c := range wc {
			for b := range size {
				row[c*size+b] = tmp[b*wc+c]
			}
		}
	}
}
