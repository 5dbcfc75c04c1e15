package flow

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// roundTripCases are the configurations the invertibility tests run: levels 1-3, split on and
// off, 1 and 3 channels, non-square images.
var roundTripCases = []struct {
	name       string
	cfg        Config
	h, w, c    int
	condC      int
	slowerCase bool
}{
	{"L1/C1", Config{Levels: 1, Steps: 2, Hidden: 8, CondHidden: 4}, 8, 8, 1, 1, false},
	{"L1/C3", Config{Levels: 1, Steps: 2, Hidden: 8, CondHidden: 4}, 8, 8, 3, 3, false},
	{"L2/C1/split", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4, Split: true}, 8, 8, 1, 1, false},
	{"L2/C1/nosplit", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4}, 8, 8, 1, 2, false},
	{"L2/C3/split", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4, Split: true}, 8, 12, 3, 1, false},
	{"L2/C3/nosplit", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4}, 12, 8, 3, 3, false},
	{"L3/C1/split/default-widths", Config{Levels: 3, Steps: 2, Split: true}, 16, 16, 1, 1, true},
	{"L2/C1/split/level-steps", Config{Levels: 2, LevelSteps: []int{1, 3}, Hidden: 8, CondHidden: 4, Split: true}, 8, 8, 1, 1, false},
	{"L2/C1/nosplit/squeeze-only-level", Config{Levels: 2, LevelSteps: []int{0, 2}, Hidden: 8, CondHidden: 4}, 8, 8, 1, 1, false},
	{"L4/C1/split/1x1-deepest", Config{Levels: 4, Steps: 1, Hidden: 8, CondHidden: 4, Split: true}, 16, 16, 1, 1, false},
	{"default/28x28x1", DefaultConfig(), 28, 28, 1, 1, true},
	{"default/32x32x3", DefaultConfig(), 32, 32, 3, 3, true},
}

// TestRoundTrip checks, on perturbed random weights (perturbVars with perturbAmp: every variable
// moved away from its identity initialization), in float32:
//   - z -> x -> z and x -> z -> x reproduce the input within 1e-4 (max abs, inputs ~N(0,1));
//   - logdet(Generate) = -logdet(Inverse) at corresponding points, within 1e-4·(1 + |logdet|)
//     (float32 sums of a few hundred terms);
//   - the flow is far from a volume-preserving map (so the test can fail): some
//     |log-determinant| > 1.
func TestRoundTrip(t *testing.T) {
	const tol = 1e-4
	for i, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slowerCase && testing.Short() {
				t.Skip("slow case skipped under -short")
			}
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			const n = 2
			z := normalTensor(rng, dtypes.Float32, n, tc.h, tc.w, tc.c)
			cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, tc.h, tc.w, tc.condC)
			f := newTestFlow(t, tc.cfg, uint64(i)+10, perturbAmp, z, cond)

			x, ldGen := f.run(f.gen, z, cond)
			z2, ldInv := f.run(f.inv, gomlxtest.FromFlat64(dtypes.Float32, x, n, tc.h, tc.w, tc.c), cond)
			zv := gomlxtest.Flat64(z)
			if d := maxAbsDiff(z2, zv); d > tol {
				t.Errorf("z -> x -> z: max |Δz| = %.3g > %g", d, tol)
			}
			nonzero := false
			for s := range n {
				if math.Abs(ldGen[s]+ldInv[s]) > tol*(1+math.Abs(ldGen[s])) {
					t.Errorf("sample %d: logdet Generate %.6g, Inverse %.6g: want opposite", s, ldGen[s], ldInv[s])
				}
				nonzero = nonzero || math.Abs(ldGen[s]) > 1
			}
			if !nonzero {
				t.Errorf("log-determinants %v all within ±1: the perturbation did not reach the scales", ldGen)
			}

			x0 := normalTensor(rng, dtypes.Float32, n, tc.h, tc.w, tc.c)
			zz, _ := f.run(f.inv, x0, cond)
			x1, _ := f.run(f.gen, gomlxtest.FromFlat64(dtypes.Float32, zz, n, tc.h, tc.w, tc.c), cond)
			if d := maxAbsDiff(x1, gomlxtest.Flat64(x0)); d > tol {
				t.Errorf("x -> z -> x: max |Δx| = %.3g > %g", d, tol)
			}
		})
	}
}

// TestInitialFlowIsRotation checks the initialization: couplings (zero last layer) and actnorm
// start as identities and the mixings as random permutations, so x = G(z) permutes z:
// log|det| = 0 and |x| = |z| per sample (float64, within 1e-10), while x ≠ z.
func TestInitialFlowIsRotation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n, h, w, c = 2, 8, 8, 3
	z := normalTensor(rng, dtypes.Float64, n, h, w, c)
	cond := gomlxtest.RandTensor(rng, dtypes.Float64, 1, n, h, w, 1)
	f := newTestFlow(t, DefaultConfig(), 3, 0, z, cond)
	x, ld := f.run(f.gen, z, cond)
	zv := gomlxtest.Flat64(z)
	size := h * w * c
	for s := range n {
		if math.Abs(ld[s]) > 1e-10 {
			t.Errorf("sample %d: initial logdet %.3g, want 0", s, ld[s])
		}
		var nx, nz float64
		for i := s * size; i < (s+1)*size; i++ {
			nx += x[i] * x[i]
			nz += zv[i] * zv[i]
		}
		if math.Abs(math.Sqrt(nx)-math.Sqrt(nz)) > 1e-10*math.Sqrt(nz) {
			t.Errorf("sample %d: |x| = %.12g, |z| = %.12g: want equal", s, math.Sqrt(nx), math.Sqrt(nz))
		}
	}
	if maxAbsDiff(x, zv) < 0.1 {
		t.Errorf("initial flow is the identity: the mixings should start as random rotations")
	}
}

// TestSharedVariables checks that Generate and Inverse share weights in one graph of a checked
// context (no "variable already exists" panic), and across graphs: building Inverse after Generate
// creates no variable, and x -> z -> x in one graph reproduces x within 1e-4 (float32, perturbed
// weights).
func TestSharedVariables(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	const n, h, w, c = 2, 8, 8, 1
	cfg := Config{Levels: 2, Steps: 1, Hidden: 8, CondHidden: 4, Split: true}
	z := normalTensor(rng, dtypes.Float32, n, h, w, c)
	cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, h, w, c)
	f := newTestFlow(t, cfg, 4, perturbAmp, z, cond)
	before := f.ctx.NumVariables()
	f.run(f.inv, z, cond)
	if after := f.ctx.NumVariables(); after != before {
		t.Errorf("Inverse created %d new variables; want it to reuse Generate's %d", after-before, before)
	}
	both := context.MustNewExec(gomlxtest.Backend(t, testGoConfig), f.ctx, func(ctx *context.Context, x, cond *graph.Node) *graph.Node {
		z, _ := Inverse(ctx, cfg, x, cond)
		x2, _ := Generate(ctx, cfg, z, cond)
		return x2
	})
	if d := maxAbsDiff(gomlxtest.Flat64(both.MustExec(z, cond)[0]), gomlxtest.Flat64(z)); d > 1e-4 {
		t.Errorf("x -> z -> x in one graph: max |Δx| = %.3g > 1e-4", d)
	}
	if after := f.ctx.NumVariables(); after != before {
		t.Errorf("the combined graph created %d new variables", after-before)
	}
}

// TestConditioning checks that the sample depends on cond (perturbed weights): two observations
// give samples that differ by more than 1e-3 somewhere, and the unconditional flow (nil cond)
// round-trips within 1e-4.
func TestConditioning(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n, h, w, c = 2, 8, 8, 1
	cfg := Config{Levels: 2, Steps: 1, Hidden: 8, CondHidden: 4, Split: true}
	z := normalTensor(rng, dtypes.Float32, n, h, w, c)
	c1 := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, h, w, c)
	c2 := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, h, w, c)
	f := newTestFlow(t, cfg, 8, perturbAmp, z, c1)
	x1, _ := f.run(f.gen, z, c1)
	x2, _ := f.run(f.gen, z, c2)
	if d := maxAbsDiff(x1, x2); d < 1e-3 {
		t.Errorf("samples for two observations differ by at most %.3g: cond has no effect", d)
	}

	u := newTestFlow(t, cfg, 9, perturbAmp, z, nil)
	x, _ := u.run(u.gen, z, nil)
	z2, _ := u.run(u.inv, gomlxtest.FromFlat64(dtypes.Float32, x, n, h, w, c), nil)
	if d := maxAbsDiff(z2, gomlxtest.Flat64(z)); d > 1e-4 {
		t.Errorf("unconditional z -> x -> z: max |Δz| = %.3g > 1e-4", d)
	}
}

// TestExtremeInputs checks that samples and log-determinants stay finite for |z| up to 1e3 and
// cond up to 1e3 (perturbed weights, float32, default widths), and that the inverse maps those
// samples back to finite latents.
func TestExtremeInputs(t *testing.T) {
	const n, h, w = 4, 16, 16
	for _, c := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(uint64(c), 11))
		z := gomlxtest.RandTensor(rng, dtypes.Float32, 1e3, n, h, w, c)
		cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1e3, n, h, w, c)
		// Sample 0: constant extreme inputs.
		zv, cv := gomlxtest.Flat64(z), gomlxtest.Flat64(cond)
		for i := range h * w * c {
			zv[i], cv[i] = 1e3, -1e3
		}
		z, cond = gomlxtest.FromFlat64(dtypes.Float32, zv, n, h, w, c), gomlxtest.FromFlat64(dtypes.Float32, cv, n, h, w, c)
		f := newTestFlow(t, DefaultConfig(), uint64(20+c), perturbAmp, z, cond)
		x, ld := f.run(f.gen, z, cond)
		t.Logf("C=%d: max |x| = %.3g, logdet %.4g", c, slices.Max(absAll(x)), ld)
		if !allFinite(x) || !allFinite(ld) {
			t.Errorf("C=%d: Generate gives non-finite values for |z|, |cond| <= 1e3 (logdet %v)", c, ld)
		}
		z2, ld2 := f.run(f.inv, gomlxtest.FromFlat64(dtypes.Float32, x, n, h, w, c), cond)
		if !allFinite(z2) || !allFinite(ld2) {
			t.Errorf("C=%d: Inverse of extreme samples is not finite", c)
		}
	}
}

// TestNumParams checks NumParams against the parameter count written out from the architecture
// (see docs/flow.md) for the default config at 28x28x1 with a 1-channel condition, and its
// split-free variant at 32x32x3.
func TestNumParams(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		h, w, c int
	}{
		{DefaultConfig(), 28, 28, 1},
		{Config{Levels: 2, Steps: 2, Hidden: 16, CondHidden: 8}, 32, 32, 3},
		{Config{Levels: 2, LevelSteps: []int{1, 3}, Hidden: 16, CondHidden: 8, Split: true}, 28, 28, 1},
		{Config{Levels: 2, LevelSteps: []int{0, 3}, Hidden: 16, CondHidden: 8}, 28, 28, 1},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		z := normalTensor(rng, dtypes.Float32, 1, tc.h, tc.w, tc.c)
		f := newTestFlow(t, tc.cfg, 1, 0, z, z)
		if got, want := NumParams(f.ctx), expectedParams(tc.cfg.withDefaults(), tc.c, tc.c); got != want {
			t.Errorf("%+v at %dx%dx%d: NumParams = %d, want %d", tc.cfg, tc.h, tc.w, tc.c, got, want)
		}
	}
}

// expectedParams counts the free parameters of the flow for c image and cc condition channels.
func expectedParams(cfg Config, c, cc int) int {
	conv := func(k, in, out int) int { return k*k*in*out + out }
	n := 0
	n += conv(3, 4*cc, cfg.CondHidden) + conv(3, cfg.CondHidden, cfg.CondHidden) // level 0
	n += (cfg.Levels - 1) * conv(3, cfg.CondHidden, cfg.CondHidden)              // levels >= 1
	ch := c
	for l := range cfg.Levels {
		// projections, no bias, of the features and the condition's own pixels
		n += (cfg.CondHidden + cc<<(2*(l+1))) * cfg.StepsAt(l) * cfg.Hidden
		ch *= 4
		step := 2*ch + ch*ch + // actnorm; mixing: 2·C(C-1)/2 triangular entries + C log-scales
			conv(3, ch/2, cfg.Hidden) + conv(1, cfg.Hidden, cfg.Hidden) + conv(3, cfg.Hidden, 2*(ch-ch/2))
		n += cfg.StepsAt(l) * step
		if cfg.Split && l < cfg.Levels-1 {
			ch /= 2
		}
	}
	return n
}

// TestValidate checks the configuration and size errors.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		h, w, c int
		wantErr string // "" for none
	}{
		{"zero config = defaults", Config{}, 28, 28, 1, ""},
		{"defaults 32x32x3", DefaultConfig(), 32, 32, 3, ""},
		{"levels 4 at 16x16", Config{Levels: 4}, 16, 16, 1, ""},
		{"28 not divisible by 8", Config{Levels: 3}, 28, 28, 1, "multiples of 2^levels = 8"},
		{"odd width", Config{Levels: 1}, 8, 7, 1, "8x7"},
		{"levels 5", Config{Levels: 5}, 64, 64, 1, "levels: must be <= 4"},
		{"negative steps", Config{Steps: -1}, 8, 8, 1, "steps: must be >= 1"},
		{"hidden 2", Config{Hidden: 2}, 8, 8, 1, "hidden: must be >= 4"},
		{"clamp negative", Config{Clamp: -1}, 8, 8, 1, "clamp: must be > 0"},
		{"clamp NaN", Config{Clamp: math.NaN()}, 8, 8, 1, "clamp: must be > 0"},
		{"clamp Inf", Config{Clamp: math.Inf(1)}, 8, 8, 1, "clamp must be finite"},
		{"no channels", Config{}, 8, 8, 0, "at least 1 channel"},
		{"level steps", Config{Levels: 2, LevelSteps: []int{1, 5}}, 8, 8, 1, ""},
		{"level steps per level", Config{Levels: 2, LevelSteps: []int{1, 2, 3}}, 8, 8, 1, "level_steps has 3 entries"},
		{"level steps >= 0", Config{Levels: 2, LevelSteps: []int{-1, 2}}, 8, 8, 1, "level_steps[0] is -1"},
		{"level steps 0 with split", Config{Levels: 2, LevelSteps: []int{0, 2}, Split: true}, 8, 8, 1, "level_steps[0] is 0 with split"},
		{"level steps 0 without split", Config{Levels: 2, LevelSteps: []int{0, 2}}, 8, 8, 1, ""},
		{"level steps all 0", Config{Levels: 2, LevelSteps: []int{0, 0}}, 8, 8, 1, "all 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(tc.h, tc.w, tc.c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if d := DefaultConfig(); !reflect.DeepEqual(d, Config{Levels: 2, Steps: 4, Hidden: 32, CondHidden: 16, Clamp: 2, Split: true}) {
		t.Errorf("DefaultConfig() = %+v", d)
	}
	if got := (Config{Split: true}).withDefaults(); !reflect.DeepEqual(got, DefaultConfig()) {
		t.Errorf("zero numeric fields should read as defaults: got %+v", got)
	}
}

// TestGeneratePanicsOnBadInput checks that shape mistakes panic with a message naming the problem.
func TestGeneratePanicsOnBadInput(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	for _, tc := range []struct {
		name        string
		zDims, cDim []int
		want        string
	}{
		{"size", []int{1, 6, 6, 1}, []int{1, 6, 6, 1}, "multiples of 2^levels"},
		{"cond size", []int{1, 8, 8, 1}, []int{1, 4, 4, 1}, "cond must be [1, 8, 8, channels]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(errString(r), tc.want) {
					t.Errorf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			g := graph.NewGraph(b, "bad")
			z := graph.Zeros(g, shapesOf(tc.zDims))
			c := graph.Zeros(g, shapesOf(tc.cDim))
			Generate(context.New(), Config{}, z, c)
		})
	}
}

func errString(r any) string {
	if e, ok := r.(error); ok {
		return e.Error()
	}
	if s, ok := r.(string); ok {
		return s
	}
	return ""
}
