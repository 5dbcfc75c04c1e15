// Package mrc reads and writes MRC2014 files: cryo-EM particle stacks (.mrcs), micrographs
// and maps (.mrc).
//
// It follows the MRC2014 specification (Cheng et al., "MRC2014: Extensions to the MRC format
// header for electron cryo-microscopy and tomography", J. Struct. Biol. 192, 2015, and
// https://www.ccpem.ac.uk/mrc_format/mrc2014.php): a 1024-byte main header (NX, NY, NZ, MODE,
// NXSTART.., MX MY MZ, CELLA in ångströms, CELLB, MAPC MAPR MAPS, DMIN DMAX DMEAN, ISPG,
// NSYMBT, EXTRA with EXTTYP at byte 104 and NVERSION at 108, ORIGIN at 196, 'MAP ' at 208,
// the machine stamp at 212, RMS, NLABL and ten 80-character labels), an extended header of
// NSYMBT bytes, then NX*NY*NZ samples, columns fastest, then rows, then sections. An image
// stack (ISPG 0, or any 3-D file read as one) is NZ images of NX x NY.
//
// The pixel size is CELLA / (MX, MY, MZ) in ångströms per pixel (Header.VoxelSize), 0 where
// the header does not give it (many particle stacks leave CELLA at 0 and keep the pixel size
// in their STAR files).
//
// # Modes
//
// Modes 0 (int8, signed as MRC2014 and mrcfile read it; old unsigned-byte files read as
// negative above 127), 1 (int16), 2 (float32), 6 (uint16) and 12 (float16) are read and
// written; samples become float32 without rescaling (exact for all five). Complex modes 3
// and 4 and the 4-bit mode 101 are errors.
//
// # Tolerance
//
// The reader accepts headers real files have, with a line in Header.Notes instead of an
// error: no 'MAP ' tag (pre-2000 writers and some RELION stacks leave it zero), a machine
// stamp other than 0x44 0x44 / 0x44 0x41 (little-endian) and 0x11 0x11 (big-endian), in which
// case the byte order is the one that gives a known mode and positive dimensions; axes other
// than (1, 2, 3) (data stay in file order); NLABL outside 0..10; bytes after the data.
//
// # Untrusted input
//
// Before any data buffer exists the header is checked: known mode, positive dimensions,
// nx*ny*nz at most 2^40 without overflow, NSYMBT not negative, and, when the input's length
// is known (files, *bytes.Reader), the extended header and the declared data within it (a
// short file is "truncated"). With an unknown length, memory grows only as data arrive.
//
// # Writing
//
// Encode writes little-endian MRC2014 from a Header (typically the one read, so pixel size,
// origin, labels and extended header survive a restore) and float32 data quantized to the
// header's mode by core/formats/dtype's rule, updating the statistics, 'MAP ', machine stamp
// and version; see Encode. mrcfile reads these files in its default (strict) mode.
package mrc
