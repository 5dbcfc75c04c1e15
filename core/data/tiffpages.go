package data

import (
	"fmt"
	"os"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats/tiff"
)

// ReadTIFFPages reads every page of a TIFF file (multi-page stacks and ImageJ hyperstacks in
// file order) with core/formats/tiff, each as a [1, H, W, channels] batch normalized as the
// package doc says: integer samples by their type's range (v/255, v/65535; signed types
// (v - min)/(max - min)), float samples as stored (taken to be in [0, 1] already; choose
// percentile normalization otherwise). RGB pages become gray by BT.601 luma for channels 1,
// gray pages are copied to each channel for 3. The header is checked first: a side outside
// 1..maxSide (DefaultMaxSide when maxSide <= 0) is rejected before pixels are read.
func ReadTIFFPages(path string, channels, maxSide int) ([]*batch.Batch, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("read %s: channels %d, want 1 (gray) or 3 (RGB)", path, channels)
	}
	if maxSide <= 0 {
		maxSide = DefaultMaxSide
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	defer f.Close()
	cfg, err := tiff.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("decode header of %s: %w", path, err)
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, fmt.Errorf("decode %s: tiff image is %dx%d, each side must be in 1..%d", path, cfg.Width, cfg.Height, maxSide)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	s, err := tiff.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	offset, scale := 0.0, 1.0
	if s.Type.Integer() {
		lo, hi := s.Type.Range()
		offset, scale = lo, hi-lo
	}
	norm := func(v float32) float32 { return float32((float64(v) - offset) / scale) }
	pages := make([]*batch.Batch, s.Pages)
	for k := range s.Pages {
		src := s.Page(k)
		b := batch.New(1, s.H, s.W, channels)
		for i := range s.H * s.W {
			switch {
			case s.C == channels:
				for c := range channels {
					b.Data[i*channels+c] = norm(src[i*channels+c])
				}
			case s.C == 1: // gray to RGB
				g := norm(src[i])
				b.Data[3*i], b.Data[3*i+1], b.Data[3*i+2] = g, g, g
			default: // RGB to gray
				b.Data[i] = 0.299*norm(src[3*i]) + 0.587*norm(src[3*i+1]) + 0.114*norm(src[3*i+2])
			}
		}
		pages[k] = b
	}
	return pages, nil
}
