package noiseest

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/data"
)

// Test signals: noise-free images in [0, 1] (side x side), each kind seeded, standing for
// smooth and textured content. The accuracy tests add noise of known parameters to them.

// signal is a named generator of n clean planes.
type signal struct {
	name string
	make func(n, side int, seed uint64) []Plane
}

var signals = []signal{
	{"gradient", gradients},
	{"discs", discs},
	{"blobs", blobs},
	{"sinusoids", sinusoids},
	{"filaments", filaments},
}

func newPlane(side int) Plane { return Plane{H: side, W: side, Data: make([]float32, side*side)} }

// gradients: a ramp in a random direction plus a gentle quadratic bowl, spanning about
// [0.02, 0.95].
func gradients(n, side int, seed uint64) []Plane {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Plane, n)
	for k := range out {
		p := newPlane(side)
		th := rng.Float64() * 2 * math.Pi
		cx, cy := rng.Float64(), rng.Float64()
		for y := range side {
			for x := range side {
				u, v := float64(x)/float64(side), float64(y)/float64(side)
				ramp := 0.5 + 0.5*((u-0.5)*math.Cos(th)+(v-0.5)*math.Sin(th))
				bowl := (u-cx)*(u-cx) + (v-cy)*(v-cy)
				p.Data[y*side+x] = float32(0.02 + 0.93*min(1, max(0, 0.85*ramp+0.3*bowl)))
			}
		}
		out[k] = p
	}
	return out
}

// discs: 12 discs with hard edges, random radius (4..side/6) and intensity, on a background
// of 0.2 to 0.4.
func discs(n, side int, seed uint64) []Plane {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]Plane, n)
	for k := range out {
		p := newPlane(side)
		bg := float32(0.2 + 0.2*rng.Float64())
		for i := range p.Data {
			p.Data[i] = bg
		}
		for range 12 {
			cx, cy := rng.Float64()*float64(side), rng.Float64()*float64(side)
			r := 4 + rng.Float64()*(float64(side)/6-4)
			val := float32(0.1 + 0.8*rng.Float64())
			for y := range side {
				for x := range side {
					dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
					if dx*dx+dy*dy <= r*r {
						p.Data[y*side+x] = val
					}
				}
			}
		}
		out[k] = p
	}
	return out
}

// sinusoids: texture over the whole range: a ramp from 0.1 to 0.9 in a random direction
// plus three plane waves of random orientation, wavelength 5..24 pixels and amplitude
// 0.02..0.06.
func sinusoids(n, side int, seed uint64) []Plane {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]Plane, n)
	for k := range out {
		p := newPlane(side)
		type wave struct{ kx, ky, ph, amp float64 }
		var ws [3]wave
		for i := range ws {
			th, lam := rng.Float64()*math.Pi, 5+19*rng.Float64()
			ws[i] = wave{2 * math.Pi * math.Cos(th) / lam, 2 * math.Pi * math.Sin(th) / lam, 2 * math.Pi * rng.Float64(), 0.02 + 0.04*rng.Float64()}
		}
		th := rng.Float64() * 2 * math.Pi
		for y := range side {
			for x := range side {
				u, v := float64(x)/float64(side)-0.5, float64(y)/float64(side)-0.5
				val := 0.5 + 0.8*(u*math.Cos(th)+v*math.Sin(th))/math.Sqrt2
				for _, w := range ws {
					val += w.amp * math.Sin(w.kx*float64(x)+w.ky*float64(y)+w.ph)
				}
				p.Data[y*side+x] = float32(val)
			}
		}
		out[k] = p
	}
	return out
}

// blobs: discs blurred by a Gaussian of 2 pixels, like cells in a fluorescence image.
func blobs(n, side int, seed uint64) []Plane {
	out := discs(n, side, seed^0xb10b)
	for _, p := range out {
		data.GaussianBlur(p.Data, p.H, p.W, 2)
	}
	return out
}

// filaments: core/data's synthetic fluorescence microtubules (blurred by a PSF of 1.2 px).
func filaments(n, side int, seed uint64) []Plane {
	d, err := data.Synthetic(data.SyntheticOptions{Height: side, Width: side}, n, int64(seed))
	if err != nil {
		panic(err)
	}
	return Planes(d.Images)
}

// sharedDir returns shared/data/SUB, found through $FLOWDIFF_SHARED or as ../shared next to
// the folder holding go.mod, or "" when neither exists.
func sharedDir(sub string) string {
	var roots []string
	if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
		roots = append(roots, env)
	}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				roots = append(roots, filepath.Join(filepath.Dir(dir), "shared"))
				break
			}
		}
	}
	for _, r := range roots {
		p := filepath.Join(r, "data", sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}

// set12 loads the Set12 test images (8-bit PNGs, clean-ish) when the shared data is present.
func set12(t *testing.T) []Plane {
	t.Helper()
	dir := sharedDir("set12")
	if dir == "" {
		return nil
	}
	d, err := data.LoadFolder(dir, data.FolderOptions{Height: 256, Width: 256})
	if err != nil {
		t.Fatalf("load Set12: %v", err)
	}
	return Planes(d.Images)
}

// addGaussian returns copies of clean with N(0, sigma²) noise added, seeded.
func addGaussian(clean []Plane, sigma float64, seed uint64) []Plane {
	rng := rand.New(rand.NewPCG(seed, 4))
	out := make([]Plane, len(clean))
	for k, c := range clean {
		p := Plane{H: c.H, W: c.W, Data: make([]float32, len(c.Data))}
		for i, v := range c.Data {
			p.Data[i] = float32(float64(v) + sigma*rng.NormFloat64())
		}
		out[k] = p
	}
	return out
}
