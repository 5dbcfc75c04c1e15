package tiff

import (
	"errors"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// sampleTypes maps (BitsPerSample, SampleFormat) to a sample type.
var sampleTypes = map[[2]int]dtype.Type{
	{8, 1}: dtype.Uint8, {8, 2}: dtype.Int8, {16, 1}: dtype.Uint16, {16, 2}: dtype.Int16,
	{16, 3}: dtype.Float16, {32, 3}: dtype.Float32, {64, 3}: dtype.Float64,
}

var compressionNames = map[uint64]string{2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4",
	6: "old JPEG", 7: "JPEG", 34712: "JPEG 2000", 50000: "Zstandard", 34925: "LZMA", 50001: "WebP"}

// parsePage reads the tags of one IFD into a page, checking each value and every strip's
// position against the file. It returns nil for a reduced-resolution page (a thumbnail).
func (f *file) parsePage(d ifd, maxPixels int64) (*page, error) {
	if d[tTileWidth] != nil || d[tTileOffsets] != nil {
		return nil, errors.New("tiled TIFF not supported: convert it to strips (for example `tiffcp -s in.tif out.tif`)")
	}
	get := func(tag uint16, def uint64) (int64, error) {
		v, err := f.uint(d, tag, def)
		return int64(v), err
	}
	sub, err := get(tNewSubfileType, 0)
	if err != nil {
		return nil, err
	}
	if sub&1 != 0 {
		return nil, nil
	}
	p := &page{}
	w, err1 := get(tImageWidth, 0)
	h, err2 := get(tImageLength, 0)
	spp, err3 := get(tSamplesPerPixel, 1)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("image is %dx%d: ImageWidth and ImageLength must be present and positive", w, h)
	}
	if spp != 1 && spp != 3 {
		return nil, fmt.Errorf("%d samples per pixel: only 1 (gray) and 3 (RGB) are supported", spp)
	}
	if w*h*spp > maxPixels {
		return nil, fmt.Errorf("image of %dx%dx%d samples exceeds the limit of %d", w, h, spp, maxPixels)
	}
	p.w, p.h, p.spp = int(w), int(h), int(spp)
	if p.bps, err = f.same(d, tBitsPerSample, 1, p.spp); err != nil {
		return nil, err
	}
	if p.format, err = f.same(d, tSampleFormat, 1, p.spp); err != nil {
		return nil, err
	}
	var ok bool
	if p.typ, ok = sampleTypes[[2]int{p.bps, p.format}]; !ok {
		return nil, fmt.Errorf("%d bits per sample with sample format %d not supported: want 8- or 16-bit integers (format 1 unsigned, 2 signed) or 16-, 32- or 64-bit floats (format 3)", p.bps, p.format)
	}
	if err := f.parseColor(d, p); err != nil {
		return nil, err
	}
	if err := f.parseCoding(d, p); err != nil {
		return nil, err
	}
	if err := f.parseStrips(d, p); err != nil {
		return nil, err
	}
	p.description, p.software = f.ascii(d, tDescription), f.ascii(d, tSoftware)
	p.xres, p.yres = f.rational(d, tXResolution), f.rational(d, tYResolution)
	unit, err := get(tResolutionUnit, 2)
	if err != nil {
		return nil, err
	}
	p.resUnit = int(unit)
	return p, nil
}

// same returns the value of a per-sample tag, which must be equal for every sample.
func (f *file) same(d ifd, tag uint16, def uint64, spp int) (int, error) {
	v, err := f.uints(d, tag)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return int(def), nil
	}
	if len(v) != spp && len(v) != 1 {
		return 0, fmt.Errorf("tag %d has %d values for %d samples per pixel", tag, len(v), spp)
	}
	for _, x := range v {
		if x != v[0] {
			return 0, fmt.Errorf("tag %d differs between samples (%v): mixed sample types are not supported", tag, v)
		}
	}
	return int(min(v[0], 1<<16)), nil
}

// parseColor checks the photometric interpretation and planar configuration.
func (f *file) parseColor(d ifd, p *page) error {
	def := uint64(1)
	if p.spp == 3 {
		def = 2
	}
	ph, err := f.uint(d, tPhotometric, def)
	if err != nil {
		return err
	}
	switch {
	case ph == 3:
		return errors.New("palette-color TIFF not supported: convert it to gray or RGB")
	case p.spp == 1 && ph > 1:
		return fmt.Errorf("photometric interpretation %d with one sample per pixel not supported: want 0 or 1 (gray)", ph)
	case p.spp == 3 && ph != 2:
		return fmt.Errorf("photometric interpretation %d with three samples per pixel not supported: want 2 (RGB)", ph)
	}
	p.photometric = int(ph)
	planar, err := f.uint(d, tPlanarConfig, 1)
	if err != nil {
		return err
	}
	if planar != 1 && !(planar == 2 && p.spp == 1) {
		return fmt.Errorf("planar configuration %d not supported: want 1 (samples of a pixel stored together)", planar)
	}
	return nil
}

// parseCoding checks the compression scheme and predictor.
func (f *file) parseCoding(d ifd, p *page) error {
	c, err := f.uint(d, tCompression, None)
	if err != nil {
		return err
	}
	switch c {
	case None, LZW, Deflate, PackBits:
	case deflateOld:
		c = Deflate
	default:
		name := compressionNames[c]
		if name != "" {
			name = " (" + name + ")"
		}
		return fmt.Errorf("compression %d%s not supported: want 1 (none), 5 (LZW), 8 (Deflate) or 32773 (PackBits)", c, name)
	}
	pr, err := f.uint(d, tPredictor, 1)
	if err != nil {
		return err
	}
	switch {
	case pr == 1 || pr == 2 || (pr == 3 && p.format == 3):
	case pr == 3:
		return fmt.Errorf("predictor %d does not apply to %v samples", pr, p.typ)
	default:
		return fmt.Errorf("predictor %d not supported: want 1 (none), 2 (horizontal) or 3 (floating point)", pr)
	}
	if c == None || c == PackBits {
		pr = 1 // as in libtiff, only LZW and Deflate data use a predictor
	}
	p.compression, p.predictor = int(c), int(pr)
	return nil
}

// parseStrips reads the strip layout and checks that every strip lies within the file and,
// uncompressed, holds its rows.
func (f *file) parseStrips(d ifd, p *page) error {
	rps, err := f.uint(d, tRowsPerStrip, 1<<32-1)
	if err != nil {
		return err
	}
	if rps == 0 {
		return errors.New("RowsPerStrip is 0")
	}
	p.rows = int(min(rps, uint64(p.h)))
	n := (p.h + p.rows - 1) / p.rows
	if e := d[tStripOffsets]; e == nil || e.count != int64(n) {
		return fmt.Errorf("%d rows in strips of %d need %d StripOffsets, found %s", p.h, p.rows, n, countOf(e))
	}
	if p.offsets, err = f.uints(d, tStripOffsets); err != nil {
		return err
	}
	if e := d[tStripByteCounts]; e == nil && p.compression == None && n == 1 {
		p.counts = []uint64{uint64(int64(p.h) * p.rowBytes())} // tolerated: implied by the size
	} else if e == nil || e.count != int64(n) {
		return fmt.Errorf("%d strips need %d StripByteCounts, found %s", n, n, countOf(e))
	} else if p.counts, err = f.uints(d, tStripByteCounts); err != nil {
		return err
	}
	rb := p.rowBytes()
	for i, off := range p.offsets {
		cnt := p.counts[i]
		if off > uint64(f.size) || cnt > uint64(f.size)-off {
			return fmt.Errorf("strip %d of %d bytes at offset %d lies outside the %d-byte file (truncated?)", i, cnt, off, f.size)
		}
		rows := min(int64(p.rows), int64(p.h)-int64(i)*int64(p.rows))
		if p.compression == None && int64(cnt) < rows*rb {
			return fmt.Errorf("strip %d holds %d bytes, its %d rows need %d", i, cnt, rows, rows*rb)
		}
		if p.compression != None && rows*rb > maxRatio*int64(cnt) {
			return fmt.Errorf("compressed strip %d of %d bytes cannot decode to the %d bytes its rows need", i, cnt, rows*rb)
		}
	}
	return nil
}

func countOf(e *entry) string {
	if e == nil {
		return "none"
	}
	return fmt.Sprint(e.count)
}
