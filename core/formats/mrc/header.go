package mrc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// HeaderSize is the size of the main header in bytes.
const HeaderSize = 1024

// Header is the MRC2014 main header, its extended header and what the reader noticed. The
// comments give each field's byte offset in the file.
type Header struct {
	NX, NY, NZ int32 // 0, 4, 8: columns, rows, sections (images of a stack)
	// Mode is the data type (12): 0 int8, 1 int16, 2 float32, 6 uint16, 12 float16.
	Mode                      int32
	NXStart, NYStart, NZStart int32      // 16, 20, 24: location of the first column, row, section
	MX, MY, MZ                int32      // 28, 32, 36: sampling of the unit cell
	CellA                     [3]float32 // 40: cell dimensions in ångströms
	CellB                     [3]float32 // 52: cell angles in degrees
	MapC, MapR, MapS          int32      // 64, 68, 72: axes of columns, rows, sections (1, 2, 3 = X, Y, Z)
	DMin, DMax, DMean         float32    // 76, 80, 84: statistics of the stored values
	ISPG                      int32      // 88: space group; 0 for image stacks, 1 for a volume
	NSymBT                    int32      // 92: extended header length in bytes
	// Extra holds bytes 96 to 195, EXTTYP and NVERSION included (written back as read).
	Extra    []byte     `json:"extra,omitempty"`
	ExtType  string     // 104: extended header type, e.g. "FEI1", "CCP4", "SERI" ("" if none)
	NVersion int32      // 108: format version, 20140 or 20141 for MRC2014
	Origin   [3]float32 // 196: origin in ångströms
	MachST   [4]byte    // 212: machine stamp, 0x44 0x44 (or 0x44 0x41) little-, 0x11 0x11 big-endian
	RMS      float32    // 216: RMS deviation of the stored values from their mean
	// Labels are the NLABL (220) labels of 80 characters (224), trailing blanks trimmed.
	Labels []string
	// ExtHeader is the NSymBT-byte extended header, kept as read.
	ExtHeader []byte `json:"ext_header,omitempty"`
	// ByteOrder is "little" or "big", as read (Encode writes little-endian).
	ByteOrder string `json:"byte_order"`
	// Notes list what the reader tolerated: a missing 'MAP ' tag, an unknown machine stamp,
	// unusual axes, trailing bytes.
	Notes []string `json:"notes,omitempty"`
}

// modes maps MRC modes to sample types.
var modes = map[int32]dtype.Type{0: dtype.Int8, 1: dtype.Int16, 2: dtype.Float32, 6: dtype.Uint16, 12: dtype.Float16}

var modeNames = map[int32]string{3: "complex int16", 4: "complex float32", 101: "4-bit packed"}

// Type returns the sample type of the header's mode.
func (h *Header) Type() (dtype.Type, error) {
	if t, ok := modes[h.Mode]; ok {
		return t, nil
	}
	name := modeNames[h.Mode]
	if name != "" {
		name = " (" + name + ")"
	}
	return dtype.Invalid, fmt.Errorf("mode %d%s not supported: want 0 (int8), 1 (int16), 2 (float32), 6 (uint16) or 12 (float16)", h.Mode, name)
}

// ModeOf returns the mode that stores t: uint8 is widened to mode 6 and float64 narrowed to
// mode 2, as mrcfile does.
func ModeOf(t dtype.Type) (int32, error) {
	switch t {
	case dtype.Uint8:
		return 6, nil
	case dtype.Float64:
		return 2, nil
	}
	for m, mt := range modes {
		if mt == t {
			return m, nil
		}
	}
	return 0, fmt.Errorf("no MRC mode stores %v", t)
}

// VoxelSize returns the sampling in ångströms per pixel along X, Y and Z, CellA / (MX, MY,
// MZ), with 0 where the header does not say (a zero cell or sampling).
func (h *Header) VoxelSize() [3]float64 {
	var v [3]float64
	for i, m := range [3]int32{h.MX, h.MY, h.MZ} {
		if m > 0 && h.CellA[i] > 0 {
			v[i] = float64(h.CellA[i]) / float64(m)
		}
	}
	return v
}

// SetVoxelSize sets CellA so that VoxelSize returns v, keeping MX, MY and MZ (set to NX, NY
// and 1 for a stack, or NZ for a volume, when they are not positive).
func (h *Header) SetVoxelSize(v [3]float64) {
	h.fillSampling()
	for i, m := range [3]int32{h.MX, h.MY, h.MZ} {
		h.CellA[i] = float32(v[i] * float64(m))
	}
}

// fillSampling sets non-positive MX, MY, MZ as mrcfile does for new data.
func (h *Header) fillSampling() {
	if h.MX <= 0 {
		h.MX = h.NX
	}
	if h.MY <= 0 {
		h.MY = h.NY
	}
	if h.MZ <= 0 {
		h.MZ = 1
		if h.ISPG != 0 {
			h.MZ = h.NZ
		}
	}
}

// parse fills h from the 1024 header bytes in byte order o.
func (h *Header) parse(b []byte, o binary.ByteOrder) {
	i32 := func(off int) int32 { return int32(o.Uint32(b[off:])) }
	f32 := func(off int) float32 { return math.Float32frombits(o.Uint32(b[off:])) }
	h.NX, h.NY, h.NZ, h.Mode = i32(0), i32(4), i32(8), i32(12)
	h.NXStart, h.NYStart, h.NZStart = i32(16), i32(20), i32(24)
	h.MX, h.MY, h.MZ = i32(28), i32(32), i32(36)
	for i := range 3 {
		h.CellA[i], h.CellB[i], h.Origin[i] = f32(40+4*i), f32(52+4*i), f32(196+4*i)
	}
	h.MapC, h.MapR, h.MapS = i32(64), i32(68), i32(72)
	h.DMin, h.DMax, h.DMean = f32(76), f32(80), f32(84)
	h.ISPG, h.NSymBT = i32(88), i32(92)
	h.Extra = bytes.Clone(b[96:196])
	h.ExtType = strings.TrimRight(string(b[104:108]), " \x00")
	h.NVersion = i32(108)
	copy(h.MachST[:], b[212:216])
	h.RMS = f32(216)
	n, clamp := i32(220), false
	if n < 0 || n > 10 {
		h.Notes = append(h.Notes, fmt.Sprintf("NLABL is %d, outside 0..10: read the 10 label slots, dropping blank ones at the end", n))
		n, clamp = 10, true
	}
	h.Labels = nil
	for i := range int(n) {
		h.Labels = append(h.Labels, strings.TrimRight(string(b[224+80*i:224+80*(i+1)]), " \x00"))
	}
	for clamp && len(h.Labels) > 0 && h.Labels[len(h.Labels)-1] == "" {
		h.Labels = h.Labels[:len(h.Labels)-1]
	}
}

// marshal encodes h as 1024 little-endian header bytes.
func (h *Header) marshal() []byte {
	b := make([]byte, HeaderSize)
	o := binary.LittleEndian
	i32 := func(off int, v int32) { o.PutUint32(b[off:], uint32(v)) }
	f32 := func(off int, v float32) { o.PutUint32(b[off:], math.Float32bits(v)) }
	i32(0, h.NX)
	i32(4, h.NY)
	i32(8, h.NZ)
	i32(12, h.Mode)
	i32(16, h.NXStart)
	i32(20, h.NYStart)
	i32(24, h.NZStart)
	i32(28, h.MX)
	i32(32, h.MY)
	i32(36, h.MZ)
	for i := range 3 {
		f32(40+4*i, h.CellA[i])
		f32(52+4*i, h.CellB[i])
		f32(196+4*i, h.Origin[i])
	}
	i32(64, h.MapC)
	i32(68, h.MapR)
	i32(72, h.MapS)
	f32(76, h.DMin)
	f32(80, h.DMax)
	f32(84, h.DMean)
	i32(88, h.ISPG)
	i32(92, h.NSymBT)
	copy(b[96:196], h.Extra)
	copy(b[104:108], fmt.Sprintf("%-4.4s", h.ExtType))
	if h.ExtType == "" {
		copy(b[104:108], "\x00\x00\x00\x00")
	}
	i32(108, h.NVersion)
	copy(b[208:212], "MAP ")
	copy(b[212:216], h.MachST[:])
	f32(216, h.RMS)
	i32(220, int32(len(h.Labels)))
	for i, l := range h.Labels {
		copy(b[224+80*i:224+80*(i+1)], fmt.Sprintf("%-80.80s", l))
	}
	return b
}
