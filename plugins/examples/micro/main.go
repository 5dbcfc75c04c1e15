// Command micro is an example FlowDiff plugin for fluorescence microscopy, served over the
// plugin protocol with plugins/sdk:
//
//   - micro.widefield: a widefield point-spread function applied as a "same" convolution with
//     zero padding, per image and channel. The PSF is the in-focus Airy pattern
//     I(r) = [2 J1(v)/v]², v = 2π NA r / λ (Born & Wolf, Principles of Optics, 8.5), sampled on
//     a 4x4 sub-pixel grid per pixel, or its Gaussian approximation with
//     σ = 0.21 λ / NA (Zhang, Zerubia & Olivo-Marin, Applied Optics 46(10), 2007), or a Gaussian
//     of a given σ in pixels. The kernel is symmetric and sums to 1, so the operator is linear
//     and its adjoint (the VJP) is the same convolution.
//   - micro.poisson_gaussian: shot noise plus camera read noise,
//     y = Poisson(photons·max(a,0))/photons + N(0, read_noise²), with a Gaussian likelihood of
//     the same mean and variance (var(a) = max(a,0)/photons + read_noise²).
//
// Images are [N,H,W,C] float32 with intensities in [0,1].
package main

import (
	"github.com/flowdiff/flowdiff-go/plugins/sdk"
	"github.com/flowdiff/flowdiff-go/registry"
)

// version is the plugin's version, shown by `flowdiff plugins list`.
const version = "1.0.0"

func main() {
	sdk.Serve(sdk.Plugin{Name: "micro", Version: version, Parts: []registry.Entry{widefieldEntry, noiseEntry}})
}
