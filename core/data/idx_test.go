package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes dims and data as an idx file, gzip-compressed when gz is set.
func idxBytes(t testing.TB, dims []int, data []byte, gz bool) []byte {
	t.Helper()
	var raw bytes.Buffer
	if err := EncodeIDX(&raw, dims, data); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return raw.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes()
}

func TestParseIDXRoundTrip(t *testing.T) {
	data := []byte{0, 1, 2, 3, 4, 5, 250, 255, 9, 9, 9, 9}
	for _, c := range []struct {
		dims []int
		gz   bool
	}{{[]int{12}, false}, {[]int{3, 2, 2}, true}, {[]int{2, 6}, true}} {
		got, err := ParseIDX(bytes.NewReader(idxBytes(t, c.dims, data, c.gz)), "x.idx", DefaultMaxIDXBytes)
		if err != nil {
			t.Fatalf("dims %v gz %v: %v", c.dims, c.gz, err)
		}
		if !slices.Equal(got.Dims, c.dims) || !bytes.Equal(got.Data, data) {
			t.Errorf("dims %v gz %v: got %v %v", c.dims, c.gz, got.Dims, got.Data)
		}
	}
}

func TestParseIDXCorrupt(t *testing.T) {
	good := idxBytes(t, []int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, false)
	gz := idxBytes(t, []int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, true)
	badCRC := slices.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff // CRC-32 in the gzip trailer
	cases := []struct {
		name, data, want string
		max              int64
	}{
		{"empty", "", "truncated magic", 0},
		{"bad-magic", "\x12\x34" + string(good[2:]), "bad magic", 0},
		{"zero-dims", "\x00\x00\x08\x00", "bad magic", 0},
		{"float-type", "\x00\x00\x0d\x01\x00\x00\x00\x01" + "abcd", "unsupported value type", 0},
		{"short-header", string(good[:9]), "truncated header", 0},
		{"zero-dim", "\x00\x00\x08\x01\x00\x00\x00\x00", "dimension 0 is zero", 0},
		{"truncated", string(good[:len(good)-1]), "declares 6 bytes, found 5", 0},
		{"trailing", string(good) + "x", "trailing data", 0},
		{"too-large", string(good), "exceed the 5-byte limit", 5},
		{"gzip-truncated", string(gz[:len(gz)-10]), "idx file", 0},
		{"gzip-crc", string(badCRC), "corrupt after payload", 0},
		{"gzip-header", "\x1f\x8b\x00", "bad gzip header", 0},
	}
	for _, c := range cases {
		max := c.max
		if max == 0 {
			max = DefaultMaxIDXBytes
		}
		name := "corrupt-" + c.name + ".idx"
		_, err := ParseIDX(strings.NewReader(c.data), name, max)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q should name the file and say %q", c.name, err, c.want)
		}
	}
}

func TestReadIDXFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.idx")
	if _, err := ReadIDXFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing file: error %v should name %s", err, p)
	}
	if err := os.WriteFile(p, []byte{0, 0, 8}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIDXFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated file: error %v should name %s", err, p)
	}
}
