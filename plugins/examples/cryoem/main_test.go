package main

import (
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/plugins/sdk/sdktest"
)

// TestCTFConforms runs the conformance suite (adjoint dot-product test, linearity,
// determinism of the per-particle defocus) in-process and through a plugin process.
func TestCTFConforms(t *testing.T) { sdktest.OperatorTest(t, ctfEntry) }

// TestElectronWavelength compares with the tabulated relativistic wavelengths (Williams &
// Carter, Transmission Electron Microscopy, table 1.1: 0.00370 nm at 100 kV, 0.00197 nm at
// 300 kV).
func TestElectronWavelength(t *testing.T) {
	for _, c := range []struct{ kv, want float64 }{{100, 0.0370}, {200, 0.0251}, {300, 0.0197}} {
		if got := ElectronWavelength(c.kv * 1e3); math.Abs(got-c.want) > 5e-5 {
			t.Errorf("%g kV: %.5f Å, want %.4f", c.kv, got, c.want)
		}
	}
}

// TestDFT compares both DFT paths with the direct sum, forward and back (tolerance 1e-9).
func TestDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 8, 12, 20, 64} {
		a := make([]complex128, n)
		for i := range a {
			a[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		want := make([]complex128, n)
		for k := range n {
			for j, v := range a {
				want[k] += v * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/float64(n)))
			}
		}
		got := append([]complex128(nil), a...)
		d := newDFT(n)
		d.transform(got, make([]complex128, n), false)
		for k := range n {
			if cmplx.Abs(got[k]-want[k]) > 1e-9 {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got[k], want[k])
			}
		}
		d.transform(got, make([]complex128, n), true)
		for k := range n {
			if cmplx.Abs(got[k]-a[k]) > 1e-9 {
				t.Fatalf("n=%d: inverse does not give the input back at %d", n, k)
			}
		}
	}
}

// TestCTFConstantImage: a constant image has only the zero frequency, where
// CTF(0) = -w (amplitude contrast), so A(c) = -w·c everywhere.
func TestCTFConstantImage(t *testing.T) {
	ctx := t.Context()
	c := NewCTF(CTFConfig{Defocus: 1.5, Cs: 2.7, Voltage: 300, Amplitude: 0.1, BFactor: 80, Pixel: 1.3})
	x := batch.New(2, 12, 20, 1)
	for i := range x.Data {
		x.Data[i] = 0.5
	}
	p, _ := c.SampleParams(ctx, rand.New(rand.NewPCG(1, 1)), x.Shape)
	y, err := c.Apply(context.Background(), x, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range y.Data {
		if math.Abs(float64(v)+0.05) > 1e-6 {
			t.Fatalf("pixel %d: %g, want -0.05", i, v)
		}
	}
}

// TestCTFZero checks the first zero of the CTF without amplitude contrast and Cs: χ = π at
// k² = 1/(λ Δf).
func TestCTFZero(t *testing.T) {
	c := NewCTF(CTFConfig{Defocus: 2, Voltage: 300, Pixel: 1})
	k := math.Sqrt(1 / (c.lambda * 2e4))
	if v := c.Value(k, 2); math.Abs(v) > 1e-9 {
		t.Errorf("CTF at the first zero %g /Å: %g", k, v)
	}
	if v := c.Value(k/2, 2); v > -0.5 {
		t.Errorf("CTF below the first zero should be strongly negative (phase contrast), got %g", v)
	}
}
