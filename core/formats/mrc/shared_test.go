package mrc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
)

// mrcfileDump opens each file (after the output folder) with mrcfile in permissive mode,
// saves its data as .npy in that folder and prints its shape and mode.
const mrcfileDump = `
import json, os, sys, warnings, numpy as np, mrcfile
warnings.simplefilter('ignore')
out = {}
for p in sys.argv[2:]:
    with mrcfile.open(p, permissive=True) as m:
        np.save(os.path.join(sys.argv[1], os.path.basename(p) + '.npy'), m.data)
        out[p] = {'shape': list(m.data.shape), 'mode': int(m.header.mode)}
print(json.dumps(out))
`

// TestSharedCryoEM reads the three real particle stacks of the shared data folder (see its
// SOURCE.md): shapes and headers as observed (mode 2, little-endian; relion31.mrcs has no
// 'MAP ' tag and a zero machine stamp, which the reader notes), and values equal to what
// mrcfile reads (permissive mode) when Python's mrcfile is present.
func TestSharedCryoEM(t *testing.T) {
	root := fmttest.SharedData(t, "cryoem")
	cases := []struct {
		path       string
		nx, ny, nz int32
		notes      []string // substrings, in order
		voxel      float64  // cella / mx, 0 when the header has no pixel size
	}{
		{"aspire_sample/sample.mrcs", 200, 200, 17, nil, 0},
		{"cryodrgn_empiar10076/empiar_10076_7.mrc", 320, 320, 7, nil, 0},
		{"cryodrgn_relion31/relion31.mrcs", 256, 256, 5, []string{"machine stamp 00 00 00 00 unknown", "no 'MAP ' tag"}, 1},
	}
	var ref map[string]struct {
		Shape []int `json:"shape"`
		Mode  int32 `json:"mode"`
	}
	dir := t.TempDir()
	var py string
	t.Run("mrcfile", func(t *testing.T) { py = fmttest.Python(t, "numpy", "mrcfile") })
	if py != "" {
		var paths []string
		for _, c := range cases {
			paths = append(paths, filepath.Join(root, c.path))
		}
		if err := json.Unmarshal(fmttest.RunPython(t, py, mrcfileDump, append([]string{dir}, paths...)...), &ref); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		p := filepath.Join(root, c.path)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		h, data, err := Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		notes := strings.Join(h.Notes, "; ")
		ok := len(h.Notes) == len(c.notes)
		for i, n := range c.notes {
			ok = ok && strings.Contains(h.Notes[i], n)
		}
		if h.NX != c.nx || h.NY != c.ny || h.NZ != c.nz || h.Mode != 2 || h.ByteOrder != "little" || !ok || h.VoxelSize()[0] != c.voxel {
			t.Errorf("%s: (%d, %d, %d) mode %d %s voxel %v notes %q", c.path, h.NX, h.NY, h.NZ, h.Mode, h.ByteOrder, h.VoxelSize(), notes)
		}
		if r, found := ref[p]; found {
			a, err := npy.ReadFile(filepath.Join(dir, filepath.Base(p)+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Mode != h.Mode || !slices.Equal(r.Shape, []int{int(c.nz), int(c.ny), int(c.nx)}) || !slices.Equal(a.Data, data) {
				t.Errorf("%s: mrcfile reads %v mode %d; values equal: %v", c.path, r.Shape, r.Mode, slices.Equal(a.Data, data))
			}
		}
	}
}
