package dtype

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxFloat16 is the largest finite float16, (2 - 2^-10) * 2^15.
const MaxFloat16 = 65504

// Float16From returns the float32 equal to the binary16 value with bits h (exact: every
// float16 is a float32).
func Float16From(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
	// zero or subnormal: frac * 2^-24
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// Float16Bits returns the binary16 nearest to f (ties to even); values beyond the float16
// range become ±Inf and NaN stays NaN (quiet).
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 31:
		return sign | 0x7c00
	case e <= 0: // subnormal half (or zero): h = mant * 2^(exp-126) with the implicit bit
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		h := mant >> shift
		rem, half := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is right, up to Inf
	}
	return sign | uint16(h)
}

// Decode converts the samples of src, stored as t in byte order o, into dst, which must hold
// len(src)/t.Size() values. It panics on a length mismatch or invalid type (a programmer
// error: callers check headers first).
func Decode(dst []float32, src []byte, t Type, o binary.ByteOrder) {
	n := t.Size()
	if n == 0 || len(src) != len(dst)*n {
		panic(fmt.Sprintf("dtype.Decode: %d bytes of %v into %d values", len(src), t, len(dst)))
	}
	if o == binary.ByteOrder(binary.LittleEndian) && decodeLE(dst, src, t) {
		return
	}
	switch t {
	case Uint8:
		for i, v := range src {
			dst[i] = float32(v)
		}
	case Int8:
		for i, v := range src {
			dst[i] = float32(int8(v))
		}
	case Uint16:
		for i := range dst {
			dst[i] = float32(o.Uint16(src[2*i:]))
		}
	case Int16:
		for i := range dst {
			dst[i] = float32(int16(o.Uint16(src[2*i:])))
		}
	case Float16:
		for i := range dst {
			dst[i] = Float16From(o.Uint16(src[2*i:]))
		}
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(o.Uint32(src[4*i:]))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(o.Uint64(src[8*i:])))
		}
	}
}

// decodeLE is Decode's fast path for the common little-endian types, with the byte order's
// methods inlined; it reports whether it handled t.
func decodeLE(dst []float32, src []byte, t Type) bool {
	le := binary.LittleEndian
	switch t {
	case Uint16:
		for i := range dst {
			dst[i] = float32(le.Uint16(src[2*i:]))
		}
	case Int16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	default:
		return false
	}
	return true
}

// Encode stores src as t in byte order o into dst, which must hold len(src)*t.Size() bytes,
// following the package's quantization rule, and returns how many values were clipped. It
// panics on a length mismatch or invalid type.
func Encode(dst []byte, src []float32, t Type, o binary.ByteOrder) (clipped int) {
	n := t.Size()
	if n == 0 || len(dst) != len(src)*n {
		panic(fmt.Sprintf("dtype.Encode: %d values as %v into %d bytes", len(src), t, len(dst)))
	}
	switch t {
	case Float32:
		for i, v := range src {
			o.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return 0
	case Float64:
		for i, v := range src {
			o.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
		return 0
	}
	if t == Float16 {
		for i, v := range src {
			q, c := t.Quantize(v)
			if c {
				clipped++
			}
			o.PutUint16(dst[2*i:], Float16Bits(float32(q)))
		}
		return clipped
	}
	lo, hi := t.Range()
	for i, v := range src {
		q := math.Round(float64(v))
		switch {
		case q != q:
			q = 0
			clipped++
		case q < lo:
			q = lo
			clipped++
		case q > hi:
			q = hi
			clipped++
		}
		switch t {
		case Uint8:
			dst[i] = uint8(q)
		case Int8:
			dst[i] = uint8(int8(q))
		case Uint16:
			o.PutUint16(dst[2*i:], uint16(q))
		case Int16:
			o.PutUint16(dst[2*i:], uint16(int16(q)))
		}
	}
	return clipped
}

// CountClipped returns how many values of src Encode would clip when storing them as t.
func CountClipped(src []float32, t Type) int {
	if t == Float32 || t == Float64 {
		return 0
	}
	n := 0
	for _, v := range src {
		if _, c := t.Quantize(v); c {
			n++
		}
	}
	return n
}
