package schema

import (
	"math"
	"strings"
	"testing"
)

// numbers has a field of each numeric kind a config uses, plus lists of them.
type numbers struct {
	Size   int       `yaml:"size"`
	Seed   int64     `yaml:"seed"`
	Count  uint8     `yaml:"count"`
	Small  int32     `yaml:"small"`
	Gain   float32   `yaml:"gain"`
	Sigma  float64   `yaml:"sigma"`
	Sizes  []int     `yaml:"sizes"`
	Scales []float64 `yaml:"scales"`
	On     bool      `yaml:"on"`
}

// TestStrictNumbers: an integer field takes only an integer literal; a decimal, a value
// outside the field's Go type or beyond 64 bits is an error naming the field and its line,
// never a silently truncated or wrapped value (issue 15: `size: 9.5` became 9).
func TestStrictNumbers(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       string // substring of the single error; "" = accepted
	}{
		{"decimal in int", "size: 9.5\n", "size: must be an integer, got 9.5 (line 1)"},
		{"decimal in int64", "size: 1\nseed: 5.9\n", "seed: must be an integer, got 5.9 (line 2)"},
		{"integral decimal in int", "size: 9.0\n", "size: must be an integer, got 9.0 (line 1)"},
		{"exponent in int", "size: 1e3\n", "size: must be an integer, got 1e3 (line 1)"},
		{"decimal in list", "sizes: [3, 4.5]\n", "sizes[1]: must be an integer, got 4.5 (line 1)"},
		{"int64 overflow", "seed: 9223372036854775808\n", "seed: 9223372036854775808 is out of range"},
		{"huge int", "size: 99999999999999999999999\n", "size: 99999999999999999999999 is out of range"},
		{"uint8 range", "count: 256\n", "count: 256 is out of range [0, 255] (line 1)"},
		{"negative uint", "count: -1\n", "count: -1 is out of range [0, 255] (line 1)"},
		{"int32 range", "small: 2147483648\n", "small: 2147483648 is out of range [-2147483648, 2147483647]"},
		{"float32 overflow", "gain: 1e39\n", "gain: 1e39 is out of range"},
		{"float64 overflow", "sigma: 1e400\n", "sigma: 1e400 is out of range for a 64-bit number"},
		{"string in int", "size: big\n", "size: must be an integer, got \"big\" (line 1)"},
		{"bool in int", "size: true\n", "size: must be an integer, got true (line 1)"},
		{"int in bool", "on: 1\n", "on: must be true or false, got 1 (line 1)"},
		{"yaml 1.1 yes in bool", "on: yes\n", "on: must be true or false, got \"yes\" (line 1)"},
		{"int accepted", "size: 9\nseed: -9223372036854775808\ncount: 255\n", ""},
		{"hex int accepted", "size: 0x10\n", ""},
		{"int in float accepted", "sigma: 3\ngain: 2\nscales: [1, 0.5]\n", ""},
		{"null keeps zero", "size: ~\n", ""},
		{"leading zero", "size: 033\n", "size: 033 has a leading zero"},
		{"leading zero in float", "sigma: 010\n", "sigma: 010 has a leading zero"},
		{"nan", "sigma: .nan\n", "sigma: must be a finite number, got .nan"},
		{"inf", "sigma: -.inf\n", "sigma: must be a finite number, got -.inf"},
		{"quoted int", "size: \"9\"\n", "size: must be an integer, got \"9\""},
		{"explicit str tag", "size: !!str 9\n", "size: must be an integer, got \"9\""},
		{"list in int", "size: [1]\n", "size: must be an integer, got a list"},
		{"scalar for list", "sizes: 3\n", "sizes: must be a list of integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n numbers
			errs := Unmarshal([]byte(c.yaml), &n)
			if c.want == "" {
				if len(errs) > 0 {
					t.Fatalf("rejected: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("errors = %v, want one containing %q (decoded %+v)", errs, c.want, n)
			}
		})
	}
}

// TestStrictNumbersValues checks the accepted values exactly, at the edges of each type.
func TestStrictNumbersValues(t *testing.T) {
	var n numbers
	doc := "size: 0x10\nseed: -9223372036854775808\ncount: 255\nsmall: -2147483648\ngain: 3.4e38\nsigma: 0.1\nsizes: [1, -2]\non: true\n"
	if errs := Unmarshal([]byte(doc), &n); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n.Size != 16 || n.Seed != math.MinInt64 || n.Count != 255 || n.Small != math.MinInt32 ||
		n.Gain != 3.4e38 || n.Sigma != 0.1 || len(n.Sizes) != 2 || n.Sizes[1] != -2 || !n.On {
		t.Errorf("decoded %+v", n)
	}
}
