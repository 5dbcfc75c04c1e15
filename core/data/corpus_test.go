package data

import (
	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// corpusDir holds the seed corpus of FuzzDecodeImage in go's fuzz corpus file format.
var corpusDir = filepath.Join("testdata", "fuzz", "FuzzDecodeImage")

// TestFuzzCorpus regenerates the FuzzDecodeImage seed corpus from fuzzCorpusImages when
// FLOWDIFF_WRITE_CORPUS=1. Otherwise it checks that every entry is present and is a valid
// image of its format and size: a corpus of rejected inputs would never reach the pixel
// decoders. (Encoder output may change between Go releases, so bytes are not compared.)
func TestFuzzCorpus(t *testing.T) {
	write := os.Getenv("FLOWDIFF_WRITE_CORPUS") == "1"
	for _, c := range fuzzCorpusImages() {
		p := filepath.Join(corpusDir, c.name)
		if write {
			entry := "go test fuzz v1\n[]byte(" + strconv.Quote(string(encodeTestImage(t, c.img, c.format))) + ")\n"
			if err := atomicfile.WriteFile(p, []byte(entry), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("seed corpus entry missing (regenerate with FLOWDIFF_WRITE_CORPUS=1): %v", err)
			continue
		}
		body, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), "go test fuzz v1\n[]byte(")
		if !ok || !strings.HasSuffix(body, ")") {
			t.Errorf("%s: not a fuzz corpus file", p)
			continue
		}
		data, err := strconv.Unquote(strings.TrimSuffix(body, ")"))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		img, format, err := DecodeImage([]byte(data), p, fuzzMaxSide)
		if err != nil || format != c.format || img.Bounds() != c.img.Bounds() {
			t.Errorf("%s: decoded as %q %v, %v; want %s %v", p, format, img, err, c.format, c.img.Bounds())
		}
	}
}
