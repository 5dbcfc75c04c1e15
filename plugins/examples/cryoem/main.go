// Command cryoem is an example FlowDiff plugin for cryo-electron microscopy: the contrast
// transfer function (CTF) of the microscope as a forward operator, applied in Fourier space,
// with a defocus per particle image drawn around a mean (a per-sample parameter).
//
// The CTF at spatial frequency k (1/Å), following Rohou & Grigorieff, "CTFFIND4", J. Struct.
// Biol. 192 (2015), eq. 1-2, with astigmatism and phase shift left out:
//
//	χ(k)   = π λ Δf k² − (π/2) Cs λ³ k⁴
//	CTF(k) = −[ √(1−w²) sin χ(k) + w cos χ(k) ] · exp(−B k² / 4)
//
// with Δf the defocus (Å, positive underfocus), Cs the spherical aberration (Å), w the
// amplitude contrast, B the B-factor (Å²) of the envelope, and λ the relativistic electron
// wavelength λ = h / √(2 m e V (1 + e V / (2 m c²))) = 12.2643 / √(V (1 + 0.978466e-6 V)) Å
// for an accelerating voltage V in volts.
//
// Apply multiplies the 2-D DFT of each image and channel by CTF(|k|) (periodic boundary:
// a circular convolution) and transforms back. The CTF is real and even in k, so A maps real
// images to real images and is symmetric: the VJP (adjoint) is A itself.
//
// Per-sample parameter "defocus" [N,1,1,1]: each image's defocus in µm, drawn as
// defocus_um + defocus_spread_um·N(0,1), floored at 0.05 µm.
package main

import (
	"github.com/flowdiff/flowdiff-go/plugins/sdk"
	"github.com/flowdiff/flowdiff-go/registry"
)

const version = "1.0.0"

func main() {
	sdk.Serve(sdk.Plugin{Name: "cryoem", Version: version, Parts: []registry.Entry{ctfEntry}})
}
