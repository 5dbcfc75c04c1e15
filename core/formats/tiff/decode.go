package tiff

import (
	"fmt"
	"io"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/source"
)

// Compression schemes (tag 259).
const (
	None       = 1
	LZW        = 5
	Deflate    = 8
	PackBits   = 32773
	deflateOld = 32946 // Adobe's early code for Deflate, still written by some software
)

// Limits on untrusted input.
const (
	// MaxPixels bounds the samples (width x height x samples per pixel, summed over pages) of
	// one file; compressed data is otherwise unbounded by the file size.
	MaxPixels = 1 << 31
	// maxInput bounds what is read into memory from a reader without random access.
	maxInput = 1 << 32
)

// Config describes a TIFF stack as its headers declare it, before any pixel is read.
type Config struct {
	Width, Height int
	// Pages is the number of images in the IFD chain, reduced-resolution pages excluded.
	Pages int
	// SamplesPerPixel is 1 (gray) or 3 (RGB).
	SamplesPerPixel int
	// BitsPerSample is 8, 16, 32 or 64; SampleFormat 1 (unsigned), 2 (signed) or 3 (float).
	BitsPerSample, SampleFormat int
	// Type is the sample type that BitsPerSample and SampleFormat name.
	Type dtype.Type
	// Compression is None, LZW, Deflate or PackBits; Predictor 1 (none), 2 (horizontal
	// differencing) or 3 (floating point).
	Compression, Predictor int
	// Photometric is 0 (WhiteIsZero: values are returned as stored), 1 (BlackIsZero) or 2 (RGB).
	Photometric int
	// ByteOrder is "II" (little-endian) or "MM" (big-endian).
	ByteOrder string
	// Skipped counts reduced-resolution pages (NewSubfileType bit 0, thumbnails) left out.
	Skipped int
}

// page is one image's layout, checked against the file.
type page struct {
	w, h, spp, bps, format int
	typ                    dtype.Type
	compression, predictor int
	photometric, rows      int
	offsets, counts        []uint64
	description, software  string
	xres, yres             [2]uint32
	resUnit                int
}

// storedBytes is the size of the page's strips in the file (for uncompressed strips, of the
// part that is read).
func (p *page) storedBytes() int64 {
	if p.compression == None {
		return int64(p.h) * p.rowBytes()
	}
	var n int64
	for _, c := range p.counts {
		n += int64(c)
	}
	return n
}

// rowBytes is the size of one decoded row.
func (p *page) rowBytes() int64 { return int64(p.w) * int64(p.spp) * int64(p.typ.Size()) }

// open reads the whole IFD chain, checking every page against the file and the others.
func open(r io.Reader, maxPixels int64) (*file, []*page, Config, error) {
	ra, size, err := source.ReaderAt(r, maxInput)
	if err != nil {
		return nil, nil, Config{}, fmt.Errorf("tiff: %w", err)
	}
	f := &file{r: ra, size: size, budget: 4*size + 1<<16}
	off, err := f.header()
	if err != nil {
		return nil, nil, Config{}, fmt.Errorf("tiff: %w", err)
	}
	var pages []*page
	var cfg Config
	seen := map[int64]bool{}
	var pixels, stored int64
	for n := 0; off != 0; n++ {
		if seen[off] {
			return nil, nil, cfg, fmt.Errorf("tiff: IFD %d loops back to offset %d", n, off)
		}
		seen[off] = true
		d, next, err := f.readIFD(off)
		if err != nil {
			return nil, nil, cfg, fmt.Errorf("tiff: page %d: %w", n, err)
		}
		p, err := f.parsePage(d, maxPixels)
		if err != nil {
			return nil, nil, cfg, fmt.Errorf("tiff: page %d: %w", n, err)
		}
		off = next
		if p == nil {
			cfg.Skipped++
			continue
		}
		if len(pages) > 0 {
			q := pages[0]
			if p.w != q.w || p.h != q.h || p.spp != q.spp || p.typ != q.typ {
				return nil, nil, cfg, fmt.Errorf("tiff: page %d is %dx%dx%d %v but page 0 is %dx%dx%d %v: a stack needs pages of one size and type",
					n, p.w, p.h, p.spp, p.typ, q.w, q.h, q.spp, q.typ)
			}
		}
		pixels += int64(p.w) * int64(p.h) * int64(p.spp)
		if pixels > maxPixels {
			return nil, nil, cfg, fmt.Errorf("tiff: page %d brings the stack past the limit of %d samples", n, maxPixels)
		}
		stored += p.storedBytes()
		if stored > size {
			return nil, nil, cfg, fmt.Errorf("tiff: page %d: the pages' strips add up to more data than the %d-byte file holds (strips shared or overlapping)", n, size)
		}
		pages = append(pages, p)
	}
	if len(pages) == 0 {
		return nil, nil, cfg, fmt.Errorf("tiff: no full-resolution page (%d reduced-resolution pages skipped)", cfg.Skipped)
	}
	p := pages[0]
	cfg.Width, cfg.Height, cfg.Pages, cfg.SamplesPerPixel = p.w, p.h, len(pages), p.spp
	cfg.BitsPerSample, cfg.SampleFormat, cfg.Type = p.bps, p.format, p.typ
	cfg.Compression, cfg.Predictor, cfg.Photometric = p.compression, p.predictor, p.photometric
	cfg.ByteOrder = "II"
	if f.order.Uint16([]byte{0, 1}) == 1 {
		cfg.ByteOrder = "MM"
	}
	return f, pages, cfg, nil
}

// DecodeConfig reads and checks the headers of every page (IFD chain, tags, strip positions
// and sizes) without reading pixel data. r should start at the TIFF's first byte; a reader
// without random access (not a file, *bytes.Reader or *io.SectionReader) is read into memory.
func DecodeConfig(r io.Reader) (Config, error) {
	_, _, cfg, err := open(r, MaxPixels)
	return cfg, err
}

// Decode reads every full-resolution page of the TIFF in r into one Stack.
func Decode(r io.Reader) (*Stack, error) {
	return decode(r, MaxPixels)
}

func decode(r io.Reader, maxPixels int64) (*Stack, error) {
	f, pages, cfg, err := open(r, maxPixels)
	if err != nil {
		return nil, err
	}
	p0 := pages[0]
	s := &Stack{W: cfg.Width, H: cfg.Height, C: cfg.SamplesPerPixel, Pages: cfg.Pages, Type: cfg.Type,
		Meta: Meta{ByteOrder: cfg.ByteOrder, Description: p0.description, Software: p0.software,
			XResolution: p0.xres, YResolution: p0.yres, ResolutionUnit: p0.resUnit, WhiteIsZero: cfg.Photometric == 0}}
	total := int64(s.W) * int64(s.H) * int64(s.C) * int64(s.Pages)
	if !allPlain(pages) {
		// Compressed strips yield at most maxRatio bytes per byte of the file.
		total = min(total, maxRatio*f.size/int64(s.Type.Size()))
	}
	s.Data = make([]float32, 0, total)
	for i, p := range pages {
		if s.Data, err = f.readPage(p, s.Data); err != nil {
			return nil, fmt.Errorf("tiff: page %d: %w", i, err)
		}
	}
	return s, nil
}

func allPlain(pages []*page) bool {
	return !slices.ContainsFunc(pages, func(p *page) bool { return p.compression != None })
}

// readPage appends the samples of p to dst. Memory grows strip by strip, only with data
// that decoded in full.
func (f *file) readPage(p *page, dst []float32) ([]float32, error) {
	rb := p.rowBytes()
	for i, off := range p.offsets {
		rows := min(int64(p.rows), int64(p.h)-int64(i)*int64(p.rows))
		need := rows * rb
		var raw []byte
		var err error
		if p.compression == None {
			raw, err = f.readAt(int64(off), need)
		} else {
			var comp []byte
			if comp, err = f.readAt(int64(off), int64(p.counts[i])); err == nil {
				raw, err = decompress(p.compression, comp, need)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("strip %d: %w", i, err)
		}
		order := f.order
		switch p.predictor {
		case 2:
			undoHorizontal(raw, int(rb), p.spp, p.typ.Size(), f.order)
		case 3:
			undoFloat(raw, int(rb), p.spp, p.typ.Size())
			order = bigEndian
		}
		k := len(dst)
		n := int(need) / p.typ.Size()
		dst = slices.Grow(dst, n)[:k+n] // never grows: decode allocated every page
		dtype.Decode(dst[k:], raw, p.typ, order)
	}
	return dst, nil
}
