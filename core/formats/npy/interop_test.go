package npy

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
)

// numpyWrite saves one array per dtype and byte order with numpy.save and prints the values
// (as float64, exact for every type here) with their shapes as JSON.
const numpyWrite = `
import json, sys, numpy as np
rng = np.random.default_rng(7)
out = {}
for code in ['|u1', '|i1', '<u2', '>u2', '<i2', '>i2', '<f2', '>f2', '<f4', '>f4', '<f8', '>f8']:
    dt = np.dtype(code)
    if dt.kind in 'ui':
        info = np.iinfo(dt)
        a = rng.integers(info.min, int(info.max) + 1, size=(2, 3, 4)).astype(dt)
        a.flat[0], a.flat[1] = info.min, info.max
    else:
        a = (rng.standard_normal((2, 3, 4)) * 100).astype(dt)
    name = code.replace('<', 'le').replace('>', 'be').replace('|', '')
    np.save(sys.argv[1] + '/' + name + '.npy', a)
    out[name] = {'shape': a.shape, 'values': a.astype(np.float64).ravel().tolist(), 'dtype': dt.name}
print(json.dumps(out))
`

// numpyRead loads each .npy file named on the command line with numpy.load and prints its
// dtype, shape and values as JSON.
const numpyRead = `
import json, sys, numpy as np
out = {}
for p in sys.argv[1:]:
    a = np.load(p)
    out[p] = {'dtype': a.dtype.name, 'shape': a.shape, 'values': a.astype(np.float64).ravel().tolist()}
print(json.dumps(out))
`

type pyArray struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

// TestNumPyInterop: files numpy.save wrote (every supported dtype, both byte orders) read
// back with exactly the values NumPy holds (float64 converted to float32 by rounding); files
// WriteAs wrote load in numpy.load with the type, shape and quantized values expected.
func TestNumPyInterop(t *testing.T) {
	py := fmttest.Python(t, "numpy")
	dir := t.TempDir()
	var written map[string]pyArray
	if err := json.Unmarshal(fmttest.RunPython(t, py, numpyWrite, dir), &written); err != nil {
		t.Fatal(err)
	}
	if len(written) != 12 {
		t.Fatalf("python wrote %d arrays, want 12", len(written))
	}
	for name, w := range written {
		a, err := ReadFile(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := make([]float32, len(w.Values))
		for i, v := range w.Values {
			want[i] = float32(v)
		}
		if a.DType.String() != w.DType || !slices.Equal(a.Shape, w.Shape) || !slices.Equal(a.Data, want) {
			t.Errorf("%s: read %v %v, NumPy has %s %v (values equal: %v)", name, a.DType, a.Shape, w.DType, w.Shape, slices.Equal(a.Data, want))
		}
	}

	in := []float32{-1.5, 0, 0.5, 1.5, 254.5, 255.49, 4095, 65535.6, -32768.4, 1e-3, 3.14159, 70000}
	var paths []string
	for _, typ := range []dtype.Type{dtype.Uint8, dtype.Int8, dtype.Uint16, dtype.Int16, dtype.Float16, dtype.Float32, dtype.Float64} {
		p := filepath.Join(dir, "go-"+typ.String()+".npy")
		if _, err := WriteFileAs(p, []int{3, 4}, in, typ); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var read map[string]pyArray
	if err := json.Unmarshal(fmttest.RunPython(t, py, numpyRead, paths...), &read); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		r, ok := read[p]
		a, err := ReadFile(p)
		if !ok || err != nil {
			t.Fatalf("%s: numpy read %v, we read err %v", p, ok, err)
		}
		got, want := make([]float32, len(r.Values)), make([]float32, len(in))
		for i, v := range r.Values {
			got[i] = float32(v)
		}
		for i, v := range in {
			q, _ := a.DType.Quantize(v)
			want[i] = float32(q)
		}
		if r.DType != a.DType.String() || !slices.Equal(r.Shape, []int{3, 4}) || !slices.Equal(got, want) {
			t.Errorf("%s: numpy.load gives %s %v %v, want %v %v", filepath.Base(p), r.DType, r.Shape, got, a.DType, want)
		}
	}
}
