package mrc

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
)

// mrcfileWrite writes one seeded image stack per mode with mrcfile (3 images of 17 x 20,
// pixel size 1.31 Å, origin, two labels; mode 2 also big-endian), saves each array as .npy
// and prints the header fields as JSON.
const mrcfileWrite = `
import json, sys, numpy as np, mrcfile
d = sys.argv[1]
rng = np.random.default_rng(3)
out = {}
cases = {'mode0': np.int8, 'mode1': np.int16, 'mode2': np.float32, 'mode6': np.uint16, 'mode12': np.float16, 'mode2_be': '>f4'}
for name, dt in cases.items():
    dt = np.dtype(dt)
    if dt.kind in 'ui':
        i = np.iinfo(dt)
        a = rng.integers(i.min, int(i.max) + 1, size=(3, 20, 17)).astype(dt)
        a.flat[0], a.flat[1] = i.min, i.max
    else:
        a = (rng.standard_normal((3, 20, 17)) * 300).astype(dt)
    p = f'{d}/{name}.mrcs'
    with mrcfile.new(p, overwrite=True) as m:
        m.set_data(a)
        m.set_image_stack()
        m.voxel_size = 1.31
        m.header.origin = (10.5, -2.0, 3.0)
        m.header.label[1] = b'second label from mrcfile'
        m.header.nlabl = 2
    np.save(f'{d}/{name}.npy', a.astype(a.dtype.newbyteorder('=')))
    with mrcfile.open(p) as m:
        h = m.header
        out[name] = {'mode': int(h.mode), 'n': [int(h.nx), int(h.ny), int(h.nz)], 'm': [int(h.mx), int(h.my), int(h.mz)],
                     'voxel': float(m.voxel_size.x), 'ispg': int(h.ispg),
                     'labels': [l.decode().rstrip() for l in h.label[:h.nlabl]],
                     'origin': [float(h.origin.x), float(h.origin.y), float(h.origin.z)]}
print(json.dumps(out))
`

// mrcfileRead validates each file named on the command line with mrcfile.validate, opens it
// in mrcfile's default (strict) mode, saves its data as .npy and prints its header as JSON.
const mrcfileRead = `
import io, json, sys, numpy as np, mrcfile
out = {}
for p in sys.argv[1:]:
    msgs = io.StringIO()
    valid = mrcfile.validate(p, print_file=msgs)
    with mrcfile.open(p) as m:
        h = m.header
        np.save(p + '.npy', m.data)
        out[p] = {'valid': bool(valid), 'problems': msgs.getvalue(), 'mode': int(h.mode), 'dtype': m.data.dtype.name,
                  'shape': list(m.data.shape), 'voxel': [float(m.voxel_size.x), float(m.voxel_size.y), float(m.voxel_size.z)],
                  'nz': int(h.nz), 'labels': [l.decode().rstrip() for l in h.label[:h.nlabl]],
                  'origin': [float(h.origin.x), float(h.origin.y), float(h.origin.z)], 'ext': int(h.nsymbt),
                  'is_stack': bool(m.is_image_stack()), 'dmin': float(h.dmin), 'dmax': float(h.dmax)}
print(json.dumps(out))
`

// TestMrcfileWritesWeRead: stacks mrcfile wrote in modes 0, 1, 2 (both byte orders), 6 and
// 12 read back with exactly mrcfile's values, pixel size, labels, origin and space group.
func TestMrcfileWritesWeRead(t *testing.T) {
	py := fmttest.Python(t, "numpy", "mrcfile")
	dir := t.TempDir()
	var written map[string]struct {
		Mode   int32     `json:"mode"`
		N      []int32   `json:"n"`
		M      []int32   `json:"m"`
		Voxel  float64   `json:"voxel"`
		ISPG   int32     `json:"ispg"`
		Labels []string  `json:"labels"`
		Origin []float32 `json:"origin"`
	}
	if err := json.Unmarshal(fmttest.RunPython(t, py, mrcfileWrite, dir), &written); err != nil {
		t.Fatal(err)
	}
	if len(written) != 6 {
		t.Fatalf("mrcfile wrote %d files, want 6", len(written))
	}
	for name, w := range written {
		f, err := os.Open(filepath.Join(dir, name+".mrcs"))
		if err != nil {
			t.Fatal(err)
		}
		h, data, err := Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		ref, err := npy.ReadFile(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		order := "little"
		if strings.HasSuffix(name, "_be") {
			order = "big"
		}
		v := h.VoxelSize()
		if h.Mode != w.Mode || !slices.Equal([]int32{h.NX, h.NY, h.NZ}, w.N) || !slices.Equal([]int32{h.MX, h.MY, h.MZ}, w.M) || !slices.Equal(data, ref.Data) ||
			math.Abs(v[0]-w.Voxel) > 1e-6 || h.ISPG != w.ISPG || !slices.Equal(h.Labels, w.Labels) ||
			!slices.Equal(h.Origin[:], w.Origin) || h.ByteOrder != order || len(h.Notes) != 0 {
			t.Errorf("%s: read mode %d (%d, %d, %d) voxel %v ispg %d labels %q origin %v %s notes %q, values equal %v; mrcfile has %+v",
				name, h.Mode, h.NX, h.NY, h.NZ, v, h.ISPG, h.Labels, h.Origin, h.ByteOrder, h.Notes, slices.Equal(data, ref.Data), w)
		}
	}
}

// TestWeWriteMrcfileReads: files Encode wrote in every mode pass mrcfile.validate and open
// in mrcfile's strict mode as image stacks with the pixel size, labels, origin, extended
// header length and (quantized) values given.
func TestWeWriteMrcfileReads(t *testing.T) {
	py := fmttest.Python(t, "numpy", "mrcfile")
	dir := t.TempDir()
	data := make([]float32, 21*13*4)
	for i := range data {
		data[i] = float32(math.Sin(float64(i))*30000) + 0.3
	}
	// mrcfile.validate computes the RMS in the data's type: a float16 sum of squares
	// overflows beyond 65504, so the mode-12 stack is scaled into [-5, 5].
	valuesFor := func(mode int32) []float32 {
		if mode != 12 {
			return data
		}
		v := make([]float32, len(data))
		for i, x := range data {
			v[i] = x / 6000
		}
		return v
	}
	var paths []string
	modesWritten := []int32{0, 1, 2, 6, 12}
	for _, mode := range modesWritten {
		h := &Header{NX: 21, NY: 13, NZ: 4, Mode: mode, ISPG: 0, Origin: [3]float32{1, 2, 3},
			Labels: []string{"FlowDiff-Go test", fmt.Sprint("mode ", mode)}, ExtHeader: make([]byte, 64), ExtType: "SERI"}
		h.SetVoxelSize([3]float64{2.806, 2.806, 2.806})
		p := filepath.Join(dir, fmt.Sprintf("go-mode%d.mrcs", mode))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Encode(f, h, valuesFor(mode)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	var read map[string]struct {
		Valid    bool      `json:"valid"`
		Problems string    `json:"problems"`
		Mode     int32     `json:"mode"`
		Shape    []int     `json:"shape"`
		Voxel    []float64 `json:"voxel"`
		NZ       int       `json:"nz"`
		Labels   []string  `json:"labels"`
		Origin   []float32 `json:"origin"`
		Ext      int       `json:"ext"`
		IsStack  bool      `json:"is_stack"`
		DMin     float32   `json:"dmin"`
		DMax     float32   `json:"dmax"`
	}
	if err := json.Unmarshal(fmttest.RunPython(t, py, mrcfileRead, paths...), &read); err != nil {
		t.Fatal(err)
	}
	for i, mode := range modesWritten {
		r := read[paths[i]]
		typ := modes[mode]
		want := make([]float32, len(data))
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for j, v := range valuesFor(mode) {
			q, _ := typ.Quantize(v)
			want[j] = float32(q)
			lo, hi = min(lo, want[j]), max(hi, want[j])
		}
		a, err := npy.ReadFile(paths[i] + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Valid || r.Mode != mode || !slices.Equal(r.Shape, []int{4, 13, 21}) || r.NZ != 4 || !r.IsStack ||
			math.Abs(r.Voxel[0]-2.806) > 1e-5 || math.Abs(r.Voxel[2]-2.806) > 1e-5 || r.Ext != 64 ||
			!slices.Equal(r.Labels, []string{"FlowDiff-Go test", fmt.Sprint("mode ", mode)}) ||
			!slices.Equal(r.Origin, []float32{1, 2, 3}) || r.DMin != lo || r.DMax != hi || !slices.Equal(a.Data, want) {
			t.Errorf("mode %d: mrcfile reads %+v; values equal %v", mode, r, slices.Equal(a.Data, want))
		}
	}
}
