package flow

import (
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// Scope is the context scope Generate and Inverse create their variables under (inside the
// context they are given).
const Scope = "flow"

// Config is the architecture of the flow. Defaults and ranges are the struct tags (each written
// once; schema.Decode applies them to a pipeline's YAML). In Go, a zero numeric field means its
// documented default; Split is a bool and is taken as given: Config{} does not split, while
// DefaultConfig() and a YAML section without `split:` do (see DefaultConfig).
type Config struct {
	// Levels is the number of multiscale levels; each starts with a 2x2 squeeze (space-to-depth),
	// so height and width must be divisible by 2^Levels.
	Levels int `yaml:"levels" default:"2" check:">=1,<=4" doc:"multiscale levels, each a 2x2 squeeze (space-to-depth) then the steps; height and width must be divisible by 2^levels"`
	// Steps is the number of flow steps per level: actnorm, LU-parametrized invertible 1x1
	// mixing, affine coupling.
	Steps int `yaml:"steps" default:"4" check:">=1" doc:"flow steps per level: actnorm, invertible 1x1 mixing (LU), affine coupling"`
	// LevelSteps, when set, gives each level its own number of steps, finest level first
	// (len(LevelSteps) = Levels), in place of Steps. Coarse levels cost a quarter of the
	// arithmetic per parameter of the level above them. A level of 0 steps only squeezes (not
	// allowed where it would factor out channels, Split).
	LevelSteps []int `yaml:"level_steps,omitempty" doc:"steps of each level, finest first (one entry per level), in place of steps; 0 makes a level a plain squeeze (without split only); default: steps at every level"`
	// Hidden is the channel width of each coupling network (conv3x3, ReLU, conv1x1, ReLU,
	// zero-initialized conv3x3).
	Hidden int `yaml:"hidden" default:"32" check:">=4" doc:"channels of each coupling network (conv3x3, ReLU, conv1x1, ReLU, zero-initialized conv3x3)"`
	// CondHidden is the channel count of the conditioning features at each level.
	CondHidden int `yaml:"cond_hidden" default:"16" check:">=1" doc:"channels of the conditioning network's features at each level"`
	// Clamp bounds the coupling log-scales: s = Clamp·tanh(s_raw/Clamp), so |s| < Clamp and a
	// coupling scales by at most e^Clamp.
	Clamp float64 `yaml:"clamp" default:"2" check:">0" doc:"soft clamp of the coupling log-scales, s = clamp*tanh(s_raw/clamp); a coupling scales by at most e^clamp"`
	// Split factors out half the channels after each level except the last (RealNVP/Glow
	// multiscale architecture).
	Split bool `yaml:"split" default:"true" doc:"multiscale: factor out half the channels after each level except the last (Glow/RealNVP)"`
}

// defaults is the Config with every field at its documented default, from the struct tags.
var defaults = sync.OnceValue(func() Config {
	var c Config
	if errs := schema.Decode(nil, &c, ""); len(errs) > 0 {
		panic(fmt.Sprintf("flow: the defaults of Config fail their own checks: %v", errs))
	}
	return c
})

// DefaultConfig returns the Config with every field at its documented default (Split true).
func DefaultConfig() Config { return defaults() }

// withDefaults returns c with its zero numeric fields set to their defaults (Split unchanged:
// schema.FillDefaults leaves bools as given).
func (c Config) withDefaults() Config {
	schema.FillDefaults(&c)
	return c
}

// Validate reports whether the flow c (zero numeric fields read as their defaults) can act on
// images of height h, width w and the given number of channels: the fields must pass their
// checks and h, w must be positive multiples of 2^Levels.
func (c Config) Validate(h, w, channels int) error {
	c = c.withDefaults()
	checked := c // schema.Decode would also default Split; keep c itself as given
	if err := schema.Decode(nil, &checked, "flow").Err(); err != nil {
		return fmt.Errorf("flow config: %w", err)
	}
	if math.IsInf(c.Clamp, 0) {
		return fmt.Errorf("flow config: clamp must be finite, got %v", c.Clamp)
	}
	if len(c.LevelSteps) > 0 {
		if len(c.LevelSteps) != c.Levels {
			return fmt.Errorf("flow config: level_steps has %d entries, want one per level (levels %d)", len(c.LevelSteps), c.Levels)
		}
		total := 0
		for l, k := range c.LevelSteps {
			switch {
			case k < 0:
				return fmt.Errorf("flow config: level_steps[%d] is %d, want >= 0", l, k)
			case k == 0 && c.Split && l < c.Levels-1:
				return fmt.Errorf("flow config: level_steps[%d] is 0 with split: the half factored out after level %d "+
					"would pass through untransformed; give it a step or set split: false", l, l)
			}
			total += k
		}
		if total == 0 {
			return fmt.Errorf("flow config: level_steps are all 0, want at least one step")
		}
	}
	f := 1 << c.Levels
	switch {
	case channels < 1:
		return fmt.Errorf("flow: need at least 1 channel, got %d", channels)
	case h < 1 || w < 1 || h%f != 0 || w%f != 0:
		return fmt.Errorf("flow: image size %dx%d (height x width): both must be positive multiples of 2^levels = %d "+
			"(levels %d); crop or pad the images, or lower levels", h, w, f, c.Levels)
	}
	return nil
}

// StepsAt returns the number of steps of level l (LevelSteps[l], or Steps when LevelSteps is
// empty).
func (c Config) StepsAt(l int) int {
	if len(c.LevelSteps) > 0 {
		return c.LevelSteps[l]
	}
	return c.Steps
}

// NumParams returns the number of free trainable parameters of the flow in ctx (whose variables
// Generate or Inverse created under ctx.In(Scope)). The strictly triangular factors of the
// LU-parametrized mixings are stored as full [C, C] matrices with a mask; only their C(C-1)/2
// free entries are counted. The fixed permutations and signs are not trainable.
func NumParams(ctx *context.Context) int {
	n := 0
	for v := range ctx.In(Scope).IterVariablesInScope() {
		if !v.Trainable {
			continue
		}
		size := v.Shape().Size()
		if v.Name() == mixLowerName || v.Name() == mixUpperName {
			c := v.Shape().Dimensions[0]
			size = c * (c - 1) / 2
		}
		n += size
	}
	return n
}
