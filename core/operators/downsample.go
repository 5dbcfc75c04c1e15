package operators

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// DownsampleConfig configures downsample.
type DownsampleConfig struct {
	Factor int `yaml:"factor" default:"2" check:">=2" doc:"block size, pixels; the image height and width must be multiples of it"`
}

// Downsample is downsample: the mean of each factor x factor block, per channel,
//
//	y[n,i,j,c] = (1/f²) Σ_{a,b<f} x[n, f·i+a, f·j+b, c],
//
// mapping [N,H,W,C] to [N,H/f,W/f,C]. Its adjoint spreads each value evenly over its block,
// x̂[n,p,q,c] = v[n, ⌊p/f⌋, ⌊q/f⌋, c] / f². No per-sample parameters; no boundary (f must
// divide H and W).
type Downsample struct{ f int }

// NewDownsample builds downsample; a zero factor takes the documented default.
func NewDownsample(cfg DownsampleConfig) (*Downsample, error) {
	schema.FillDefaults(&cfg)
	if cfg.Factor < 2 {
		return nil, fmt.Errorf("downsample: factor must be >= 2, got %d", cfg.Factor)
	}
	return &Downsample{cfg.Factor}, nil
}

// OutShape implements Operator.
func (d *Downsample) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("downsample: invalid input shape %s", in)
	}
	if in.H%d.f != 0 || in.W%d.f != 0 {
		return in, fmt.Errorf("downsample: a %dx%d image is not a whole number of %dx%d blocks; crop it or choose a factor that divides both sides",
			in.H, in.W, d.f, d.f)
	}
	return batch.Shape{N: in.N, H: in.H / d.f, W: in.W / d.f, C: in.C}, nil
}

// SampleParams implements Operator: no per-sample parameters.
func (d *Downsample) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}

// IsLinear implements LinearOperator.
func (d *Downsample) IsLinear() bool { return true }

// Apply implements Operator: block means.
func (d *Downsample) Apply(ctx context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	o, err := d.OutShape(ctx, x.Shape)
	if err != nil {
		return nil, err
	}
	out := batch.New(o.N, o.H, o.W, o.C)
	acc := make([]float64, o.W*o.C)
	scale := 1 / float64(d.f*d.f)
	for n := range o.N {
		for i := range o.H {
			clear(acc)
			for a := range d.f {
				row := x.Data[x.Index(n, d.f*i+a, 0, 0):x.Index(n, d.f*i+a+1, 0, 0)]
				for q := range x.W {
					for c := range x.C {
						acc[(q/d.f)*o.C+c] += float64(row[q*x.C+c])
					}
				}
			}
			dst := out.Data[out.Index(n, i, 0, 0):out.Index(n, i+1, 0, 0)]
			for t, v := range acc {
				dst[t] = float32(v * scale)
			}
		}
	}
	return out, nil
}

// VJP implements Operator: the adjoint spreads v[i,j]/f² over block (i,j).
func (d *Downsample) VJP(ctx context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	if err := checkVJPArgs(ctx, d, "downsample VJP", x, v); err != nil {
		return nil, err
	}
	out := batch.New(x.N, x.H, x.W, x.C)
	scale := 1 / float32(d.f*d.f)
	for n := range x.N {
		for p := range x.H {
			for q := range x.W {
				for c := range x.C {
					out.Set(n, p, q, c, v.At(n, p/d.f, q/d.f, c)*scale)
				}
			}
		}
	}
	return out, nil
}

// ApplyGraph implements GraphOperator: a reshape to [N,H/f,f,W/f,f,C] and a mean over the two
// block axes (both ops have native gradients on every backend).
func (d *Downsample) ApplyGraph(x *graph.Node, _ map[string]*graph.Node) *graph.Node {
	n, h, w, c := checkImageNode("downsample", x)
	if h%d.f != 0 || w%d.f != 0 {
		panic(fmt.Sprintf("downsample: %dx%d image is not a whole number of %dx%d blocks", h, w, d.f, d.f))
	}
	return graph.ReduceMean(graph.Reshape(x, n, h/d.f, d.f, w/d.f, d.f, c), 2, 4)
}

func init() {
	registry.Register(registry.Entry{
		ID:         "op.downsample",
		Deprecated: []string{"downsample"},
		Kind:       registry.KindOperator,
		Linear:     true,
		Summary:    "box downsampling: the mean of each factor x factor block (super-resolution)",
		Config:     func() any { return &DownsampleConfig{} },
		New:        func(_ context.Context, cfg any) (any, error) { return NewDownsample(*cfg.(*DownsampleConfig)) },
	})
}

var (
	_ part.LinearOperator = (*Downsample)(nil)
	_ GraphOperator       = (*Downsample)(nil)
)
