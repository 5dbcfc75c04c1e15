// Package tiff reads and writes multi-page scientific TIFF stacks (confocal and widefield
// microscopy, ImageJ hyperstacks) with their stored values, which golang.org/x/image/tiff
// does not: it reads one page, no float samples, and writes no 16-bit or float data.
//
// It follows TIFF 6.0 (Adobe, 1992) for baseline files and its extensions for sample
// formats (section 19: SampleFormat 1 unsigned, 2 signed, 3 IEEE float), the predictor
// (section 14) and Adobe's floating-point predictor (TIFF Technical Note 3, 2005).
//
// # What is read
//
//   - classic TIFF, little- ("II") or big-endian ("MM"); BigTIFF is an error;
//   - every page of the IFD chain, in order, as one Stack; pages must share size, samples
//     and type; reduced-resolution pages (NewSubfileType bit 0, thumbnails) are skipped and
//     counted in Config.Skipped; an IFD chain that loops is an error. An ImageJ hyperstack is
//     read as its pages in file order (ImageJ's "images=" order: channel, slice, frame);
//   - 1 sample per pixel (gray; photometric 0 or 1: values as stored, WhiteIsZero is not
//     inverted, as in tifffile) or 3 (RGB, chunky), of uint8, int8, uint16, int16, float16,
//     float32 or float64 samples;
//   - strips (any RowsPerStrip), uncompressed, PackBits, LZW (golang.org/x/image/tiff/lzw)
//     or Deflate (8 or 32946, compress/zlib), with predictor 1, 2 (horizontal differencing,
//     integers) or 3 (floating point) for LZW and Deflate, as libtiff applies them.
//
// Tiles, palettes, planar configuration 2 with RGB, bilevel, CMYK, YCbCr, JPEG and the other
// compressions are errors that name what was found ("tiled TIFF not supported: convert it
// to strips (for example `tiffcp -s in.tif out.tif`)").
//
// Samples become float32 without rescaling (core/formats/dtype: exact for every type but
// float64, which is rounded). Stack.Data is page-major, then row-major, with RGB samples
// interleaved.
//
// # Untrusted input
//
// DecodeConfig reads only headers and checks, before any pixel buffer exists: every tag
// value and IFD lies within the file; the strip count matches the image height and
// RowsPerStrip; every strip lies within the file; an uncompressed strip holds all its rows,
// a compressed one is large enough to (at 4096 bytes per byte, more than LZW, Deflate or
// PackBits can give);
// the strips of all pages together are no larger than the file (strips cannot be shared to
// multiply a small file); and the samples of all pages together stay within MaxPixels
// (2^31), the bound for compressed data, whose decoded size the file does not limit. The
// values of tags read from the file are charged to a budget of four times the file size, so
// IFDs that share one large array cannot make memory grow faster than the file. Decoding
// then allocates the samples once: for compressed stacks no more than 4096 samples per byte
// of the file (16 KiB of float32 per byte: a small file that is a valid "compression bomb"
// can cost that much) and no more than MaxPixels. A strip that decodes short is an error
// naming the page and strip.
//
// # What is written
//
// Encode writes little-endian baseline TIFF: one IFD per page (after that page's data),
// strips of about 64 KiB, uncompressed or Deflate, samples of any of the types above with
// BitsPerSample and SampleFormat set, the ImageDescription of the first page (ImageJ
// metadata survive a round trip), resolution and unit, and Software "FlowDiff-Go". Values
// are quantized by core/formats/dtype's rule (round half away from zero, clip) and the clip
// count is returned. tifffile and libtiff read these files (see the interoperability tests).
package tiff
