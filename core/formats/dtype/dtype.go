// Package dtype names the sample types that scientific image files store (uint8, int8, uint16,
// int16, float16, float32, float64) and converts between their bytes and float32, the one
// in-memory type of FlowDiff-Go's images.
//
// # Reading
//
// Decode turns stored samples into float32 without rescaling: a uint16 sample 4095 becomes
// 4095.0. Every integer type up to 16 bits and float16 convert exactly; float64 is rounded to
// the nearest float32 (IEEE 754 round-to-nearest-even).
//
// # Writing
//
// Encode is the one quantization rule of core/formats: for an integer type a value v is
// rounded to the nearest integer, halves away from zero (math.Round), then clipped to the
// type's range ([0, 255] for uint8, [-32768, 32767] for int16, ...); NaN is written as 0.
// For float16 a value is rounded to the nearest float16 (ties to even) and a finite value
// beyond ±65504 saturates to ±65504 rather than becoming infinite. Every value that had to be
// moved into the range (and every NaN written to an integer type) counts as clipped, and
// Encode returns that count so that callers can report it. float32 and float64 store every
// float32 exactly: nothing is clipped.
//
// Float16 is IEEE 754 binary16 (1 sign bit, 5 exponent bits with bias 15, 10 fraction bits),
// the MRC2014 mode 12 and NumPy '<f2' type.
package dtype

import (
	"fmt"
	"math"
)

// Type is a stored sample type. The zero value is Invalid.
type Type uint8

// The sample types.
const (
	Invalid Type = iota
	Uint8
	Int8
	Uint16
	Int16
	Float16
	Float32
	Float64
)

var names = [...]string{Invalid: "invalid", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Float16: "float16", Float32: "float32", Float64: "float64"}

// String returns the NumPy name of t ("uint16", "float32", ...).
func (t Type) String() string {
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("dtype(%d)", uint8(t))
}

// Parse returns the Type whose String is s.
func Parse(s string) (Type, error) {
	for i, n := range names {
		if i > 0 && n == s {
			return Type(i), nil
		}
	}
	return Invalid, fmt.Errorf("sample type %q unknown: want one of uint8, int8, uint16, int16, float16, float32, float64", s)
}

// MarshalText writes the String form, so a Type reads well in JSON and YAML.
func (t Type) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("marshal sample type: %v is not valid", t)
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses the String form.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Valid reports whether t is one of the named types.
func (t Type) Valid() bool { return t > Invalid && t <= Float64 }

// Size is the number of bytes of one sample (0 for Invalid).
func (t Type) Size() int {
	switch t {
	case Uint8, Int8:
		return 1
	case Uint16, Int16, Float16:
		return 2
	case Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// Integer reports whether t is an integer type.
func (t Type) Integer() bool { return t >= Uint8 && t <= Int16 }

// Range returns the smallest and largest finite values t can store.
func (t Type) Range() (lo, hi float64) {
	switch t {
	case Uint8:
		return 0, math.MaxUint8
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint16:
		return 0, math.MaxUint16
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Float16:
		return -MaxFloat16, MaxFloat16
	case Float32:
		return -math.MaxFloat32, math.MaxFloat32
	case Float64:
		return -math.MaxFloat64, math.MaxFloat64
	}
	return 0, 0
}

// Quantize returns the value v becomes when stored as t (see the package doc) and whether it
// was clipped. For float32 and float64 it returns v unchanged.
func (t Type) Quantize(v float32) (q float64, clipped bool) {
	switch {
	case t.Integer():
		if v != v {
			return 0, true
		}
		lo, hi := t.Range()
		r := math.Round(float64(v))
		switch {
		case r < lo:
			return lo, true
		case r > hi:
			return hi, true
		}
		return r, false
	case t == Float16:
		if v != v {
			return float64(v), false
		}
		h := Float16Bits(v)
		if h&0x7c00 == 0x7c00 && !math.IsInf(float64(v), 0) { // a finite value rounded to ±Inf
			return math.Copysign(MaxFloat16, float64(v)), true
		}
		return float64(Float16From(h)), false
	}
	return float64(v), false
}
