package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// CTFConfig configures cryoem.ctf.
type CTFConfig struct {
	Defocus   float64 `yaml:"defocus_um" default:"1.5" check:">0,<=10" doc:"mean defocus, µm (positive: underfocus)"`
	Spread    float64 `yaml:"defocus_spread_um" default:"0.2" check:">=0" doc:"standard deviation of the per-particle defocus around the mean, µm"`
	Cs        float64 `yaml:"cs_mm" default:"2.7" check:">=0" doc:"spherical aberration, mm"`
	Voltage   float64 `yaml:"voltage_kv" default:"300" check:">0" doc:"accelerating voltage, kV"`
	Amplitude float64 `yaml:"amplitude_contrast" default:"0.07" check:">=0,<1" doc:"fraction of amplitude contrast w"`
	BFactor   float64 `yaml:"bfactor" default:"50" check:">=0" doc:"B-factor of the envelope exp(-B k²/4), Å²"`
	Pixel     float64 `yaml:"pixel_a" default:"1.0" check:">0" doc:"pixel size, Å"`
}

// CTF is the operator cryoem.ctf.
type CTF struct {
	cfg    CTFConfig
	lambda float64 // electron wavelength, Å
}

// ElectronWavelength returns the relativistic electron wavelength in Å for a voltage in volts.
func ElectronWavelength(volts float64) float64 {
	return 12.2643247 / math.Sqrt(volts*(1+0.978466e-6*volts))
}

// NewCTF builds the operator.
func NewCTF(cfg CTFConfig) *CTF { return &CTF{cfg: cfg, lambda: ElectronWavelength(cfg.Voltage * 1e3)} }

// Value returns CTF(k) for a spatial frequency k (1/Å) and defocus df (µm).
func (c *CTF) Value(k, df float64) float64 {
	k2 := k * k
	cs := c.cfg.Cs * 1e7 // mm -> Å
	chi := math.Pi*c.lambda*df*1e4*k2 - math.Pi/2*cs*c.lambda*c.lambda*c.lambda*k2*k2
	w := c.cfg.Amplitude
	return -(math.Sqrt(1-w*w)*math.Sin(chi) + w*math.Cos(chi)) * math.Exp(-c.cfg.BFactor*k2/4)
}

// OutShape implements part.Operator: y has x's shape.
func (c *CTF) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("cryoem.ctf: invalid input shape %s", in)
	}
	return in, nil
}

// SampleParams implements part.Operator: "defocus" [N,1,1,1] in µm.
func (c *CTF) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	d := batch.New(in.N, 1, 1, 1)
	for i := range d.Data {
		d.Data[i] = float32(max(c.cfg.Defocus+c.cfg.Spread*rng.NormFloat64(), 0.05))
	}
	return part.Params{"defocus": d}, nil
}

// IsLinear implements part.LinearOperator.
func (c *CTF) IsLinear() bool { return true }

// Apply implements part.Operator.
func (c *CTF) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return c.filter(ctx, x, p)
}

// VJP implements part.Operator: A is symmetric (real, even transfer function).
func (c *CTF) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	if v.Shape != x.Shape {
		return nil, fmt.Errorf("cryoem.ctf VJP: v has shape %s, want %s", v.Shape, x.Shape)
	}
	return c.filter(ctx, v, p)
}

// freq returns the signed frequency index of DFT bin i of n (i or i-n).
func freq(i, n int) int {
	if 2*i >= n {
		return i - n
	}
	return i
}

// filter multiplies each image's spectrum by the CTF of its defocus.
func (c *CTF) filter(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	d, ok := p["defocus"]
	if !ok || d.Shape != (batch.Shape{N: x.N, H: 1, W: 1, C: 1}) {
		return nil, fmt.Errorf("cryoem.ctf: per-sample parameter \"defocus\" must be [%d,1,1,1] (draw it with SampleParams)", x.N)
	}
	h, w := x.H, x.W
	rows, cols := newDFT(w), newDFT(h)
	y := batch.New(x.N, h, w, x.C)
	g := make([]complex128, h*w)
	ctf := make([]float64, h*w)
	for n := range x.N {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		df := float64(d.Data[n])
		for i := range h {
			ky := float64(freq(i, h)) / (float64(h) * c.cfg.Pixel)
			for j := range w {
				kx := float64(freq(j, w)) / (float64(w) * c.cfg.Pixel)
				ctf[i*w+j] = c.Value(math.Hypot(kx, ky), df)
			}
		}
		for ch := range x.C {
			for i := range h * w {
				g[i] = complex(float64(x.Data[(n*h*w+i)*x.C+ch]), 0)
			}
			fft2(g, h, w, rows, cols, false)
			for i := range g {
				g[i] *= complex(ctf[i], 0)
			}
			fft2(g, h, w, rows, cols, true)
			for i := range h * w {
				y.Data[(n*h*w+i)*x.C+ch] = float32(real(g[i]))
			}
		}
	}
	return y, nil
}

var ctfEntry = registry.Entry{
	ID: "cryoem.ctf", Kind: registry.KindOperator, Linear: true,
	Summary: "cryo-EM contrast transfer function in Fourier space (defocus per particle, Cs, voltage, amplitude contrast, B-factor)",
	Config:  func() any { return &CTFConfig{} },
	New:     func(_ context.Context, cfg any) (any, error) { return NewCTF(*cfg.(*CTFConfig)), nil },
}

var _ part.LinearOperator = (*CTF)(nil)
