package operators

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// convOp is the shared core of the blur operators: a fixed kernel applied to each channel as a
// "same" convolution with zero padding (see the package documentation for the convention). It
// has no per-sample parameters and is linear.
type convOp struct {
	name   string
	kernel *Kernel
	// sep, when non-nil, holds the 1-D taps along height and width of a separable kernel
	// (kernel = sep[0] ⊗ sep[1]); Apply, VJP and ApplyGraph then work axis by axis.
	sep [2][]float64

	mu       sync.Mutex
	matrices map[[3]int][]float32 // (kind, rows, cols) -> in-graph matrix, built once per shape
}

// Kernel returns the operator's kernel (do not modify it).
func (c *convOp) Kernel() *Kernel { return c.kernel }

// OutShape implements Operator: the output has the input's shape.
func (c *convOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("%s: invalid input shape %s", c.name, in)
	}
	return in, nil
}

// SampleParams implements Operator: a blur has no per-sample parameters.
func (c *convOp) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}

// IsLinear implements LinearOperator.
func (c *convOp) IsLinear() bool { return true }

// Apply implements Operator: y = k * x per image and channel.
func (c *convOp) Apply(ctx context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	return c.run(ctx, x, false)
}

// VJP implements Operator: the adjoint, a correlation with k (zero padding as in Apply).
func (c *convOp) VJP(ctx context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	if err := checkVJPArgs(ctx, c, c.name+" VJP", x, v); err != nil {
		return nil, err
	}
	return c.run(ctx, v, true)
}

func (c *convOp) run(ctx context.Context, x *batch.Batch, adjoint bool) (*batch.Batch, error) {
	if c.sep[0] != nil {
		t, err := separable1D(ctx, x, c.sep[1], 2, adjoint)
		if err != nil {
			return nil, err
		}
		return separable1D(ctx, t, c.sep[0], 1, adjoint)
	}
	return convPlan(c.kernel, adjoint).correlate(ctx, x)
}

// matrix returns the cached in-graph matrix: kind 0/1 the banded [n,n] matrix of sep[kind],
// kind 2 the dense [HW,HW] matrix of the kernel.
func (c *convOp) matrix(kind, h, w int) []float32 {
	key := [3]int{kind, h, w}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.matrices[key]; ok {
		return m
	}
	var m []float32
	switch kind {
	case 0:
		m = bandedMatrix(c.sep[0], h)
	case 1:
		m = bandedMatrix(c.sep[1], w)
	default:
		m = denseMatrix(c.kernel, h, w)
	}
	if c.matrices == nil {
		c.matrices = map[[3]int][]float32{}
	}
	c.matrices[key] = m
	return m
}

// ApplyGraph implements GraphOperator: banded matrix products for a separable kernel; else a
// dense [HW,HW] product or a sum of shifted windows, whichever useDense says is cheaper; the
// gradient is the matching adjoint form (see withAdjoint).
func (c *convOp) ApplyGraph(x *graph.Node, _ map[string]*graph.Node) *graph.Node {
	_, h, w, _ := checkImageNode(c.name, x)
	var fwd, adj func(*graph.Node) *graph.Node
	switch {
	case c.sep[0] != nil:
		bh := constMatrix(x, c.matrix(0, h, h), h, h)
		bw := constMatrix(x, c.matrix(1, w, w), w, w)
		fwd = func(x *graph.Node) *graph.Node { return separableGraph(x, bh, bw, false) }
		adj = func(v *graph.Node) *graph.Node { return separableGraph(v, bh, bw, true) }
	case useDense(convPlan(c.kernel, false).reachingTaps(h, w), h*w):
		m := constMatrix(x, c.matrix(2, h, w), h*w, h*w)
		fwd = func(x *graph.Node) *graph.Node { return denseGraph(x, m, false) }
		adj = func(v *graph.Node) *graph.Node { return denseGraph(v, m, true) }
	default:
		fwd = func(x *graph.Node) *graph.Node { return windowsGraph(x, convPlan(c.kernel, false)) }
		adj = func(v *graph.Node) *graph.Node { return windowsGraph(v, convPlan(c.kernel, true)) }
	}
	return withAdjoint(x, fwd, adj)
}

// GaussianBlurConfig configures blur.gaussian.
type GaussianBlurConfig struct {
	Size  int     `yaml:"size" default:"33" check:"odd,>=1,<=255" doc:"kernel width and height, pixels; odd, 1-255 (the paper: 33)"`
	Sigma float64 `yaml:"sigma" default:"1.5" check:">0" doc:"standard deviation of the Gaussian, pixels, > 0 (the paper: 1.5)"`
}

// minGaussianSize is the smallest kernel that holds ±2 sigma of the Gaussian.
func minGaussianSize(sigma float64) int { return 2*int(math.Ceil(2*sigma)) + 1 }

// Check implements schema.Checker: the kernel must hold at least ±2 sigma, else it is a
// truncated, nearly flat kernel rather than a Gaussian blur.
func (c *GaussianBlurConfig) Check() []schema.Problem {
	if m := minGaussianSize(c.Sigma); c.Size < m {
		return []schema.Problem{{Field: "size", Msg: fmt.Sprintf(
			"a %d-pixel kernel truncates a Gaussian of sigma %g; size must be at least %d (±2 sigma), or lower sigma",
			c.Size, c.Sigma, m)}}
	}
	return nil
}

// GaussianBlur is blur.gaussian: y = g * x per channel, with g the normalized, isotropic
// Gaussian kernel g[a,b] ∝ exp(-((a-r)² + (b-r)²) / (2σ²)), r = (size-1)/2, sum 1, and zero
// padding. The kernel is separable, so Apply and VJP run two 1-D passes and the in-graph form
// is Bh X Bwᵀ with banded matrices. No per-sample parameters.
type GaussianBlur struct{ convOp }

// NewGaussianBlur builds blur.gaussian; a zero field takes its documented default.
func NewGaussianBlur(cfg GaussianBlurConfig) (*GaussianBlur, error) {
	schema.FillDefaults(&cfg)
	switch {
	case cfg.Size < 1 || cfg.Size > MaxKernelSize || cfg.Size%2 == 0:
		return nil, fmt.Errorf("blur.gaussian: size must be odd and in [1, %d], got %d", MaxKernelSize, cfg.Size)
	case !(cfg.Sigma > 0) || math.IsInf(cfg.Sigma, 0):
		return nil, fmt.Errorf("blur.gaussian: sigma must be > 0, got %v", cfg.Sigma)
	}
	if p := cfg.Check(); len(p) > 0 {
		return nil, fmt.Errorf("blur.gaussian: %s", p[0].Msg)
	}
	g := gaussian1D(cfg.Size, cfg.Sigma)
	k := &Kernel{H: cfg.Size, W: cfg.Size, K: make([]float64, cfg.Size*cfg.Size)}
	for a, ga := range g {
		for b, gb := range g {
			k.K[a*cfg.Size+b] = ga * gb
		}
	}
	return &GaussianBlur{convOp{name: "blur.gaussian", kernel: k, sep: [2][]float64{g, g}}}, nil
}

func init() {
	registry.Register(registry.Entry{
		ID:      "blur.gaussian",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "isotropic Gaussian blur (size x size kernel, sigma pixels), zero padding, same size",
		Config:  func() any { return &GaussianBlurConfig{} },
		New: func(_ context.Context, cfg any) (any, error) {
			return NewGaussianBlur(*cfg.(*GaussianBlurConfig))
		},
	})
}

var (
	_ part.LinearOperator = (*GaussianBlur)(nil)
	_ GraphOperator       = (*GaussianBlur)(nil)
	_ schema.Checker      = (*GaussianBlurConfig)(nil)
	_ part.LinearOperator = (*convOp)(nil)
)
