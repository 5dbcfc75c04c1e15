// Package formats reads and writes the image files of scientific imaging (fluorescence
// microscopy TIFF stacks, cryo-EM MRC stacks, NumPy arrays) and ordinary PNG and JPEG images
// through one type, Image, so that a restoration writes its result back in the input's
// format and sample type.
//
// # Formats
//
// Read and Write choose by extension (any case):
//
//	.png          8/16-bit gray or RGB (image/png; palettes expanded, alpha dropped)  one image
//	.jpg .jpeg    8-bit gray or RGB, read only (image/jpeg; writing is refused: lossy)
//	.tif .tiff    multi-page TIFF, uint8..float64, gray or RGB (core/formats/tiff)
//	.mrc .mrcs    MRC2014 modes 0, 1, 2, 6, 12, stacks of NZ images (core/formats/mrc)
//	.npy          NumPy arrays (H, W), (N, H, W) or (N, H, W, C) (core/formats/npy)
//
// Each decoder checks its header before allocating; see the sub-packages for the checks
// and limits, and docs/formats.md for the whole picture.
//
// # Values
//
// An Image holds the stored values as float32, without normalization: a uint16 sample 4095
// is 4095.0, an MRC float keeps its value. Image.SourceType records the stored type and
// Image.Meta the header to write back (TIFF description and resolution, the MRC header with
// pixel size, origin, labels and extended header, the .npy shape).
//
// Write stores Image.SourceType (float32 when unset): integers are rounded half away from
// zero and clipped to the type's range, and Write returns the number of clipped samples, so
// that 16-bit TIFF in gives 16-bit TIFF out with the clipping reported; float MRC in gives
// float MRC out, bit for bit when the values are unchanged. Non-finite values cannot be
// written to an integer type (an error).
//
// # Normalization
//
// Normalizing to [0, 1] is a separate, explicit step whose Scaling (x' = (x - Offset) /
// Scale) serializes to JSON, so that a run can record it per file and Denormalize inverts it
// before Write:
//
//   - integer types (Range): by the type's full range, v/255 for uint8 and v/65535 for
//     uint16 ((v + 32768)/65535 for int16). The scale is the detector's, the same for every
//     file of a dataset (intensities stay comparable across files), it matches core/data,
//     and Denormalize then Write gives back every integer exactly (checked for all 65536
//     uint16 values);
//   - float types (MinMax): by the file's minimum and maximum. Floats have no fixed range;
//     min-max puts every value in [0, 1] as the models expect, is an exact affine map that
//     Denormalize inverts to within a float32 rounding of the range, and needs no parameter.
//     Its weakness is outliers (one hot pixel compresses everything else); Percentile
//     (2nd-99.8th percentile, CSBDeep's defaults) is the robust choice, asked for
//     explicitly; it does not clip, so values beyond the percentiles leave [0, 1] but still
//     invert exactly.
//
// The scale is computed over the whole file, all images of a stack together.
package formats
