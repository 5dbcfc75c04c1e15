package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

const (
	// LPIPSWeightsFile is the name of the LPIPS-squeeze weights file that is searched for.
	LPIPSWeightsFile = "lpips-squeeze-v0.1.safetensors"
	// LPIPSWeightsEnv names the environment variable that points at the weights file.
	LPIPSWeightsEnv = "FLOWDIFF_LPIPS_WEIGHTS"
	// lpipsEps is added to each feature vector's norm before dividing (LPIPS normalize_tensor).
	lpipsEps = 1e-10
	// lpipsSearchParents is how many parent folders of the working folder are searched.
	lpipsSearchParents = 4
)

// lpipsObtain tells a user where the weights come from and where to put them.
const lpipsObtain = "the file holds LPIPS v0.1 (github.com/richzhang/PerceptualSimilarity, BSD-2-Clause): " +
	"its linear heads lpips/weights/v0.1/squeeze.pth with torchvision's ImageNet squeezenet1_1 " +
	"features, converted to safetensors; set `weights:` in the metric's config or " + LPIPSWeightsEnv +
	" to its path, or copy it to ~/.cache/flowdiff/" + LPIPSWeightsFile

// LPIPSConfig configures metric.lpips.
type LPIPSConfig struct {
	Weights string `yaml:"weights" doc:"path of lpips-squeeze-v0.1.safetensors; empty: $FLOWDIFF_LPIPS_WEIGHTS, then shared/weights/ in the working folder and its parents (4 up), then ~/.cache/flowdiff/"`
}

// LPIPS is the Learned Perceptual Image Patch Similarity of Zhang, Isola, Efros, Shechtman
// and Wang, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR
// 2018, version 0.1 with the SqueezeNet-1.1 trunk, as lpips.LPIPS(net="squeeze")(x, y,
// normalize=True) computes it:
//
//	x' = ((2x - 1) - shift) / scale                  per RGB channel (gray is copied to R, G, B)
//	f_l = SqueezeNet-1.1 tap l of x', l = 1..7         [H_l, W_l, C_l]
//	u_l = f_l / (||f_l||_2 over channels + 1e-10)      per pixel
//	d(x, y) = sum_l mean_{h,w} sum_c w_{l,c} (u_l(x) - u_l(y))_{h,w,c}^2
//
// with shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450) and w_l >= 0 the
// learned linear heads, all read from the weights file. Inputs are [N, H, W, C] with C = 1
// or 3, intensities in [0, 1] (not clipped), each side at least 17 pixels. 0 means identical;
// lower is better. The network runs in float32, the distance sums in float64; images of a
// batch are scored in parallel, one goroutine per core.
type LPIPS struct {
	net          squeezeNet
	lin          [lpipsTaps][]float32
	shift, scale [3]float32
	// Path is the weights file the metric was loaded from.
	Path string
	// Meta is the file's __metadata__ (provenance notes written by its converter).
	Meta map[string]string
}

// FindLPIPSWeights returns the weights file to use: path when it is not empty, otherwise the
// first of $FLOWDIFF_LPIPS_WEIGHTS, DIR/shared/weights/lpips-squeeze-v0.1.safetensors for DIR
// the working folder and up to four of its parents, and
// ~/.cache/flowdiff/lpips-squeeze-v0.1.safetensors. When none exists the error is an
// *UnavailableError that lists the places searched and how to obtain the file.
func FindLPIPSWeights(path string) (string, error) {
	unavailable := func(reason string) error {
		return &UnavailableError{ID: "metric.lpips", Reason: reason + "; " + lpipsObtain}
	}
	if path != "" {
		if !isFile(path) {
			return "", unavailable(fmt.Sprintf("weights file %s (config `weights`) not found", path))
		}
		return path, nil
	}
	if env := os.Getenv(LPIPSWeightsEnv); env != "" {
		if !isFile(env) {
			return "", unavailable(fmt.Sprintf("weights file %s (from %s) not found", env, LPIPSWeightsEnv))
		}
		return env, nil
	}
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir, i := wd, 0; i <= lpipsSearchParents+1; i++ {
			tried = append(tried, filepath.Join(dir, "shared", "weights", LPIPSWeightsFile))
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		tried = append(tried, filepath.Join(home, ".cache", "flowdiff", LPIPSWeightsFile))
	}
	for _, p := range tried {
		if isFile(p) {
			return p, nil
		}
	}
	return "", unavailable(fmt.Sprintf("weights file %s not found (%s unset; looked in %s)",
		LPIPSWeightsFile, LPIPSWeightsEnv, strings.Join(tried, ", ")))
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// fireShapes are (input, squeeze, expand) channels of the eight fire modules, and
// fireNames their tensor prefixes (LPIPS slice and torchvision features index).
var (
	fireShapes = [8][3]int{{64, 16, 64}, {128, 16, 64}, {128, 32, 128}, {256, 32, 128},
		{256, 48, 192}, {384, 48, 192}, {384, 64, 256}, {512, 64, 256}}
	fireNames = [8]string{"net.slice2.3", "net.slice2.4", "net.slice3.6", "net.slice3.7",
		"net.slice4.9", "net.slice5.10", "net.slice6.11", "net.slice7.12"}
)

// LoadLPIPS reads the LPIPS-squeeze weights from a safetensors file holding LPIPS's
// state_dict: scaling_layer.{shift,scale}, net.sliceS.I.* (SqueezeNet convolutions, PyTorch
// [out, in, kh, kw] layout) and the heads lin0..lin4 and lins.5..lins.6 (either spelling is
// accepted for each). A missing file is an *UnavailableError; a file with missing, extra,
// misshapen or negative head tensors is an ordinary error.
func LoadLPIPS(path string) (*LPIPS, error) {
	f, err := readSafetensors(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &UnavailableError{ID: "metric.lpips", Reason: fmt.Sprintf("weights file %s not found; %s", path, lpipsObtain)}
	}
	if err != nil {
		return nil, fmt.Errorf("load lpips weights: %w", err)
	}
	used := map[string]bool{}
	var firstErr error
	get := func(name string, shape ...int) []float32 {
		used[name] = true
		v, err := f.float32s(name, shape...)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			v = make([]float32, n) // keeps the construction below simple; firstErr is returned
		}
		return v
	}
	m := &LPIPS{Path: path, Meta: f.meta}
	copy(m.shift[:], get("scaling_layer.shift", 1, 3, 1, 1))
	copy(m.scale[:], get("scaling_layer.scale", 1, 3, 1, 1))
	m.net.conv1 = newConv2d(get("net.slice1.0.weight", 64, 3, 3, 3), get("net.slice1.0.bias", 64), 3, 64, 3, 2, 0)
	for i, s := range fireShapes {
		cin, sq, ex, p := s[0], s[1], s[2], fireNames[i]
		m.net.fires[i] = fire{
			squeeze: newConv2d(get(p+".squeeze.weight", sq, cin, 1, 1), get(p+".squeeze.bias", sq), cin, sq, 1, 1, 0),
			expand1: newConv2d(get(p+".expand1x1.weight", ex, sq, 1, 1), get(p+".expand1x1.bias", ex), sq, ex, 1, 1, 0),
			expand3: newConv2d(get(p+".expand3x3.weight", ex, sq, 3, 3), get(p+".expand3x3.bias", ex), sq, ex, 3, 1, 1),
		}
	}
	for l, c := range lpipsChannels {
		// LPIPS's state_dict holds each head twice, as linL and as lins.L; either will do.
		name, alt := fmt.Sprintf("lin%d.model.1.weight", l), fmt.Sprintf("lins.%d.model.1.weight", l)
		if _, ok := f.tensors[name]; !ok {
			name, alt = alt, name
		}
		used[alt] = true
		m.lin[l] = get(name, 1, c, 1, 1)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("load lpips weights: %w", firstErr)
	}
	for l, w := range m.lin {
		for c, v := range w {
			if !(v >= 0) {
				return nil, fmt.Errorf("load lpips weights %s: head %d channel %d is %v; LPIPS heads are non-negative", path, l, c, v)
			}
		}
	}
	var extra []string
	for _, n := range f.names() {
		if !used[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("load lpips weights %s: unexpected tensors %s; is this the squeeze model?", path, strings.Join(extra, ", "))
	}
	return m, nil
}

// Compute implements Metric.
func (m *LPIPS) Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error) {
	if err := checkPair(ref, img); err != nil {
		return nil, err
	}
	if ref.C != 1 && ref.C != 3 {
		return nil, fmt.Errorf("lpips needs 1 or 3 channels, got %d", ref.C)
	}
	if err := m.net.checkInputSize(ref.H, ref.W); err != nil {
		return nil, err
	}
	out := make([]float64, ref.N)
	err := parallelImages(ctx, ref.N, func() func(i int) {
		var a arena
		return func(i int) {
			a.reset()
			out[i] = m.distance(ref.Image(i), img.Image(i), &a)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// distance is LPIPS between two [1, H, W, C] images.
func (m *LPIPS) distance(x, y *batch.Batch, a *arena) float64 {
	fx := m.net.features(m.prepare(x, a), a)
	fy := m.net.features(m.prepare(y, a), a)
	var d float64
	for l := range fx {
		d += headDistance(fx[l], fy[l], m.lin[l])
	}
	return d
}

// prepare maps a [1, H, W, C] image in [0, 1] to the network input ((2v-1) - shift) / scale,
// [H, W, 3].
func (m *LPIPS) prepare(b *batch.Batch, a *arena) fmap {
	x := fmap{h: b.H, w: b.W, c: 3, d: a.get(b.H * b.W * 3)}
	for p := range b.H * b.W {
		for c := range 3 {
			v := b.Data[p*b.C+min(c, b.C-1)]
			x.d[3*p+c] = (2*v - 1 - m.shift[c]) / m.scale[c]
		}
	}
	return x
}

// headDistance is mean_{h,w} sum_c w_c (u_c - v_c)^2 for u, v the unit-normalized features.
func headDistance(f, g fmap, w []float32) float64 {
	var sum float64
	for p := range f.h * f.w {
		fr, gr := f.d[p*f.c:(p+1)*f.c], g.d[p*f.c:(p+1)*f.c]
		var nf, ng float64
		for c := range fr {
			nf += float64(fr[c]) * float64(fr[c])
			ng += float64(gr[c]) * float64(gr[c])
		}
		nf, ng = 1/(math.Sqrt(nf)+lpipsEps), 1/(math.Sqrt(ng)+lpipsEps)
		for c := range fr {
			d := float64(fr[c])*nf - float64(gr[c])*ng
			sum += float64(w[c]) * d * d
		}
	}
	return sum / float64(f.h*f.w)
}

// HigherIsBetter implements Metric.
func (*LPIPS) HigherIsBetter() bool { return false }

func init() {
	registry.Register(registry.Entry{
		ID: "metric.lpips", Kind: registry.KindMetric,
		Summary: "LPIPS v0.1 perceptual distance, SqueezeNet-1.1 trunk (needs the weights file)",
		Config:  func() any { return &LPIPSConfig{} },
		New: func(_ context.Context, c any) (any, error) {
			path, err := FindLPIPSWeights(c.(*LPIPSConfig).Weights)
			if err != nil {
				return nil, err
			}
			return LoadLPIPS(path)
		},
	})
}

var _ part.Metric = (*LPIPS)(nil)
