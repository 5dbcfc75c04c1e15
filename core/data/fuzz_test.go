package data

import (
	"bytes"
	"image"
	"image/color"
	"testing"
)

// fuzzMaxSide keeps fuzzed images small: the header check rejects anything larger before
// pixels are decoded, which is the protection against absurd allocations under test.
const fuzzMaxSide = 256

// FuzzDecodeImage feeds arbitrary bytes to the decode path (DecodeImage, then ImageToBatch
// with 1 and 3 channels): it must return an error or an image within the size limit, with
// finite values in [0, 1], and never panic. The seed corpus in testdata/fuzz/FuzzDecodeImage
// holds tiny valid PNG, JPEG and TIFF files (8- and 16-bit gray, RGB).
func FuzzDecodeImage(f *testing.F) {
	m := image.NewGray(image.Rect(0, 0, 3, 2))
	m.Pix = []byte{0, 50, 100, 150, 200, 250}
	f.Add(encodeTestImage(f, m, "png"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := DecodeImage(data, "fuzz", fuzzMaxSide)
		if err != nil {
			return
		}
		r := img.Bounds()
		if r.Dx() < 1 || r.Dy() < 1 || r.Dx() > fuzzMaxSide || r.Dy() > fuzzMaxSide {
			t.Fatalf("decoded image of size %v passed the %d limit", r, fuzzMaxSide)
		}
		for _, ch := range []int{1, 3} {
			b, err := ImageToBatch(img, ch)
			if err != nil {
				t.Fatalf("convert decoded %T: %v", img, err)
			}
			for _, v := range b.Data {
				if !(v >= 0 && v <= 1.000001) {
					t.Fatalf("%T with %d channels: value %v outside [0,1]", img, ch, v)
				}
			}
		}
	})
}

// FuzzIDX feeds arbitrary bytes (raw or gzip) to ParseIDX with a 1 MiB limit: it must return
// an error, or dimensions whose product is the payload length, and never panic.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes(f, []int{2, 2}, []byte{1, 2, 3, 4}, false))
	f.Add(idxBytes(f, []int{3}, []byte{7, 8, 9}, true))
	f.Add(idxBytes(f, []int{1, 28, 28}, make([]byte, 784), true))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseIDX(bytes.NewReader(data), "fuzz.idx", 1<<20)
		if err != nil {
			return
		}
		size := 1
		for _, d := range got.Dims {
			if d <= 0 {
				t.Fatalf("dimension %d in %v", d, got.Dims)
			}
			size *= d
		}
		if size != len(got.Data) || size > 1<<20 {
			t.Fatalf("dims %v for %d bytes", got.Dims, len(got.Data))
		}
	})
}

type corpusImage struct {
	name, format string
	img          image.Image
}

// fuzzCorpusImages are the images whose encodings make up the FuzzDecodeImage seed corpus
// (written by TestWriteFuzzCorpus when FLOWDIFF_WRITE_CORPUS=1).
func fuzzCorpusImages() []corpusImage {
	r := image.Rect(0, 0, 4, 3)
	g8 := image.NewGray(r)
	g16 := image.NewGray16(r)
	rgb := image.NewNRGBA(r)
	rgb16 := image.NewRGBA64(r)
	for i := range 12 {
		x, y := i%4, i/4
		g8.SetGray(x, y, color.Gray{uint8(20 * i)})
		g16.SetGray16(x, y, color.Gray16{uint16(5000 * i)})
		rgb.SetNRGBA(x, y, color.NRGBA{uint8(20 * i), uint8(255 - 20*i), uint8(7 * i), 255})
		rgb16.SetRGBA64(x, y, color.RGBA64{uint16(5000 * i), 100, uint16(60000 - 5000*i), 0xffff})
	}
	return []corpusImage{
		{"png-gray8", "png", g8}, {"png-gray16", "png", g16}, {"png-rgb", "png", rgb},
		{"jpeg-gray", "jpeg", g8}, {"jpeg-rgb", "jpeg", rgb},
		{"tiff-gray8", "tiff", g8}, {"tiff-gray16", "tiff", g16}, {"tiff-rgb16", "tiff", rgb16},
	}
}
