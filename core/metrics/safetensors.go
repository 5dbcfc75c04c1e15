package metrics

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// maxSafetensorsHeader bounds the JSON header of a safetensors file (100 MB, the limit the
// reference implementation applies).
const maxSafetensorsHeader = 100 << 20

// safetensors is a file in the safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length n, n bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that follows the
// header) plus an optional "__metadata__" map of strings, then the raw little-endian data.
// Only what LPIPS needs is read: F32 tensors.
type safetensors struct {
	path    string
	meta    map[string]string
	tensors map[string]tensorInfo
	data    []byte
}

type tensorInfo struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// readSafetensors reads and checks a whole safetensors file: every tensor's byte range must
// lie within the data and match its dtype and shape.
func readSafetensors(path string) (*safetensors, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("safetensors %s: %d bytes, too short for a header", path, len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > maxSafetensorsHeader || n > uint64(len(raw)-8) {
		return nil, fmt.Errorf("safetensors %s: header length %d does not fit the %d-byte file", path, n, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("safetensors %s: header: %w", path, err)
	}
	f := &safetensors{path: path, tensors: map[string]tensorInfo{}, data: raw[8+n:]}
	for name, msg := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.meta); err != nil {
				return nil, fmt.Errorf("safetensors %s: __metadata__: %w", path, err)
			}
			continue
		}
		var ti tensorInfo
		if err := json.Unmarshal(msg, &ti); err != nil {
			return nil, fmt.Errorf("safetensors %s: tensor %q: %w", path, name, err)
		}
		size, ok := dtypeSize[ti.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors %s: tensor %q: unknown dtype %q", path, name, ti.DType)
		}
		elems := 1
		for _, d := range ti.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt32/d) {
				return nil, fmt.Errorf("safetensors %s: tensor %q: bad shape %v", path, name, ti.Shape)
			}
			elems *= d
		}
		b, e := ti.Offsets[0], ti.Offsets[1]
		if b < 0 || e < b || e > len(f.data) || e-b != elems*size {
			return nil, fmt.Errorf("safetensors %s: tensor %q: data_offsets %v do not hold %v %s values in %d data bytes",
				path, name, ti.Offsets, ti.Shape, ti.DType, len(f.data))
		}
		f.tensors[name] = ti
	}
	return f, nil
}

var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}

// float32s returns the F32 tensor name, checking that its shape is want.
func (f *safetensors) float32s(name string, want ...int) ([]float32, error) {
	ti, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q (%d tensors present)", f.path, name, len(f.tensors))
	}
	if ti.DType != "F32" {
		return nil, fmt.Errorf("safetensors %s: tensor %q is %s, want F32", f.path, name, ti.DType)
	}
	if fmt.Sprint(ti.Shape) != fmt.Sprint(want) {
		return nil, fmt.Errorf("safetensors %s: tensor %q has shape %v, want %v", f.path, name, ti.Shape, want)
	}
	b := f.data[ti.Offsets[0]:ti.Offsets[1]]
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// names returns the tensor names, sorted.
func (f *safetensors) names() []string {
	out := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
