package host

import (
	"context"
	"io"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Prior is a plugin's prior: it implements part.Prior.
type Prior struct{ base }

// Energy implements part.Prior.
func (p *Prior) Energy(ctx context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	var e []float64
	var g *batch.Batch
	err := p.do(ctx, "Energy", func(ctx context.Context, rpc *protocol.Client) (err error) {
		e, g, err = rpc.Energy(ctx, p.handle, x)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := p.checkValues("Energy", e, x.N, false); err != nil {
		return nil, nil, err
	}
	return e, g, p.checkTensor("Energy", g, x.Shape)
}

// Metric is a plugin's image-quality metric: it implements part.Metric. Values may be
// infinite (a PSNR of identical images) but not NaN.
type Metric struct {
	base
	higher bool
}

// HigherIsBetter implements part.Metric, as the plugin describes the part.
func (m *Metric) HigherIsBetter() bool { return m.higher }

// Compute implements part.Metric.
func (m *Metric) Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error) {
	var v []float64
	err := m.do(ctx, "Compute", func(ctx context.Context, rpc *protocol.Client) (err error) {
		v, err = rpc.Compute(ctx, m.handle, ref, img)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, m.checkValues("Compute", v, ref.N, true)
}

var (
	_ part.Prior  = (*Prior)(nil)
	_ part.Metric = (*Metric)(nil)
	_ io.Closer   = (*Prior)(nil)
	_ io.Closer   = (*Metric)(nil)
)
