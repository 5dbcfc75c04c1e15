// Package observe reads observations that arrive corrupted, the data of a scientist who has no
// clean images: noisy microscopy captures, cryo-EM particle stacks. It lists the files named
// on a command line or in a pipeline (files, folders, glob patterns; stacks give one image per
// page), gives each a stable relative name, normalizes its intensities with a recorded,
// invertible map, matches optional clean references by file name, cuts training patches, and
// splits a file list into shards for many machines.
//
// # Names
//
// Every input has a relative name, Rel, slash-separated: a file found in a folder argument is
// named by its path under that folder ("day1/cell3.tif"); a file argument, or a glob match, by
// its base name. Outputs of a restoration keep these names, and references are matched by
// them. Two inputs with one name are an error naming both. The images of a file are named Rel
// for a single image, "Rel#pageK" (K from 0) for the pages of a stack, and a patch adds
// "#pK@Y,X" (patch K, top-left pixel (Y, X) of the page).
//
// # Intensities
//
// Files are read with core/formats, which keeps the stored values (a uint16 4095 is 4095.0).
// A Normalization maps them to the units the models see, x' = (x - Offset) / Scale, one
// formats.Scaling per file, recorded so that a restoration is mapped back to the file's units
// and type:
//
//	auto        range for integer types, minmax for floats
//	range       the type's full range: uint8 /255, uint16 /65535 (the same for every file)
//	minmax      the file's own minimum and maximum (all pages of a stack together)
//	percentile  the file's 2nd and 99.8th percentiles (or Low, High), not clipped
//	fixed       the given Offset and Scale, the same for every file
//
// The noise parameters of a pipeline's forward model are in these normalized units: with
// range, a camera read noise of s grey levels in a 16-bit file is s/65535; with fixed, a noise
// standard deviation s in file units is s/Scale. range and fixed keep one scale for the whole
// dataset, so one noise level fits every file; minmax and percentile scale each file on its
// own, and a noise level that is right for one file is then wrong for another of different
// range (docs/restore.md).
//
// A reference (a clean image of the same scene, for evaluation only) is normalized with its
// observation's Scaling, so both are in the same units.
//
// # Observations are never resampled
//
// Resampling would change the noise that the forward model declares, so an observation is
// used at its native resolution: whole, when it has the model's size, or cut into patches of
// that size at uniformly random positions drawn from the PCG stream (Seed, file index).
package observe
