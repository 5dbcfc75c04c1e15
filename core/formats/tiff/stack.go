package tiff

import "github.com/flowdiff/flowdiff-go/core/formats/dtype"

// Stack is a multi-page image: Pages images of H rows of W pixels of C samples (1 gray, 3
// RGB), held as float32 with their stored values (no rescaling).
type Stack struct {
	W, H, C, Pages int
	// Type is the stored sample type (Decode) or the type the data came from.
	Type dtype.Type
	// Data holds the samples page by page, row by row, pixel by pixel, interleaved RGB:
	// sample c of pixel (x, y) of page k is Data[((k*H+y)*W+x)*C+c].
	Data []float32
	// Meta is kept from the file and written back by Encode.
	Meta Meta
}

// Meta is what a TIFF carries besides its pixels that is worth writing back.
type Meta struct {
	// ByteOrder is "II" or "MM" as read (Encode always writes "II").
	ByteOrder string `json:"byte_order,omitempty"`
	// Description is the first page's ImageDescription (ImageJ keeps its metadata here, e.g.
	// "ImageJ=1.53t\nimages=10\nslices=10\nunit=micron\nspacing=0.5\n").
	Description string `json:"description,omitempty"`
	// Software is the first page's Software tag.
	Software string `json:"software,omitempty"`
	// XResolution and YResolution are pixels per ResolutionUnit as numerator and denominator
	// ({0, 0} when absent); ResolutionUnit is 1 (none), 2 (inch) or 3 (centimeter).
	XResolution    [2]uint32 `json:"x_resolution"`
	YResolution    [2]uint32 `json:"y_resolution"`
	ResolutionUnit int       `json:"resolution_unit,omitempty"`
	// WhiteIsZero is set when a gray file declares photometric interpretation 0 (its values
	// are returned as stored, not inverted); Encode writes it back.
	WhiteIsZero bool `json:"white_is_zero,omitempty"`
}

// Len is the number of samples the Stack's dimensions call for.
func (s *Stack) Len() int { return s.W * s.H * s.C * s.Pages }

// Page returns the samples of page k.
func (s *Stack) Page(k int) []float32 {
	n := s.W * s.H * s.C
	return s.Data[k*n : (k+1)*n]
}
