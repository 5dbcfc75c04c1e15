package dtype

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// TestFloat16Bits checks rounding to binary16 against NumPy 1.24
// (np.array([v], np.float32).astype(np.float16).view(np.uint16)), ties to even included.
func TestFloat16Bits(t *testing.T) {
	cases := []struct {
		v    float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{0.1, 0x2e66},
		{1.0 / 3, 0x3555},
		{65504, 0x7bff},
		{65519, 0x7bff},            // below the midpoint to 2^16: rounds down
		{65520, 0x7c00},            // the midpoint rounds to even, which is Inf
		{0x1p-24, 0x0001},          // smallest subnormal
		{0x1p-25, 0x0000},          // half of it: tie to even (0)
		{0x1p-25 * 1.0001, 0x0001}, // just above the tie
		{3 * 0x1p-25, 0x0002},      // 1.5 subnormal units: tie to even (2)
		{6.1e-5, 0x03ff},           // largest subnormal region
		{float32(math.Copysign(0, -1)), 0x8000},
		{1 + 0x1p-10 + 0x1p-11, 0x3c02}, // tie between 0x3c01 and 0x3c02: even
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, c := range cases {
		if got := Float16Bits(c.v); got != c.want {
			t.Errorf("Float16Bits(%g) = %#04x, want %#04x", c.v, got, c.want)
		}
	}
	if h := Float16Bits(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN became %#04x, want a NaN", h)
	}
}

// TestFloat16RoundTrip: every non-NaN binary16 converts to float32 and back to itself.
func TestFloat16RoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := Float16From(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			if f == f {
				t.Fatalf("%#04x: NaN decoded as %v", h, f)
			}
			continue
		}
		if back := Float16Bits(f); back != h {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
	if Float16From(0x7bff) != MaxFloat16 || Float16From(0x0001) != 0x1p-24 {
		t.Error("float16 extremes decode wrongly")
	}
}

func TestQuantize(t *testing.T) {
	cases := []struct {
		t       Type
		v       float32
		want    float64
		clipped bool
	}{
		{Uint8, 2.5, 3, false}, // halves away from zero
		{Uint8, -0.4, 0, false},
		{Uint8, -0.6, 0, true},
		{Uint8, 255.4, 255, false},
		{Uint8, 255.5, 255, true},
		{Uint16, 65535, 65535, false},
		{Uint16, 70000, 65535, true},
		{Int16, -32768.4, -32768, false},
		{Int16, -40000, -32768, true},
		{Int8, -2.5, -3, false},
		{Int8, 200, 127, true},
		{Uint16, float32(math.NaN()), 0, true},
		{Float16, 1e6, MaxFloat16, true},
		{Float16, -70000, -MaxFloat16, true},
		{Float16, 0.1, 0.0999755859375, false},
		{Float32, 1e30, 1e30, false},
	}
	for _, c := range cases {
		q, clipped := c.t.Quantize(c.v)
		if float32(q) != float32(c.want) || clipped != c.clipped {
			t.Errorf("%v.Quantize(%g) = %g, %v; want %g, %v", c.t, c.v, q, clipped, c.want, c.clipped)
		}
	}
}

// TestEncodeDecode round-trips representable values through every type and both byte
// orders, and checks the byte layout of one value per type.
func TestEncodeDecode(t *testing.T) {
	vals := map[Type][]float32{
		Uint8:   {0, 1, 128, 255},
		Int8:    {-128, -1, 0, 127},
		Uint16:  {0, 1, 4095, 65535},
		Int16:   {-32768, -1, 0, 32767},
		Float16: {0, -1.5, 0.0999755859375, 65504},
		Float32: {0, -1.5, 1e-30, 3.4e38},
		Float64: {0, -1.5, 1e-30, 3.4e38},
	}
	for typ, v := range vals {
		for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			b := make([]byte, len(v)*typ.Size())
			if c := Encode(b, v, typ, o); c != 0 {
				t.Errorf("%v %v: %d clipped, want 0", typ, o, c)
			}
			got := make([]float32, len(v))
			Decode(got, b, typ, o)
			if !slices.Equal(got, v) {
				t.Errorf("%v %v: %v came back as %v", typ, o, v, got)
			}
		}
	}
	b := make([]byte, 2)
	Encode(b, []float32{-2}, Int16, binary.BigEndian)
	if b[0] != 0xff || b[1] != 0xfe {
		t.Errorf("int16 -2 big-endian = % x, want ff fe", b)
	}
	if c := Encode(make([]byte, 3), []float32{-1, 300, 7}, Uint8, nil); c != 2 {
		t.Errorf("clipped = %d, want 2", c)
	}
	if c := CountClipped([]float32{-1, 300, 7, 255.5}, Uint8); c != 3 {
		t.Errorf("CountClipped = %d, want 3", c)
	}
}

func TestTypeText(t *testing.T) {
	for typ := Uint8; typ <= Float64; typ++ {
		b, err := json.Marshal(typ)
		if err != nil {
			t.Fatal(err)
		}
		var back Type
		if err := json.Unmarshal(b, &back); err != nil || back != typ {
			t.Errorf("%v: JSON %s read back as %v, %v", typ, b, back, err)
		}
	}
	if _, err := Parse("complex64"); err == nil {
		t.Error("Parse accepted complex64")
	}
	if _, err := json.Marshal(Invalid); err == nil {
		t.Error("Invalid marshaled")
	}
}
