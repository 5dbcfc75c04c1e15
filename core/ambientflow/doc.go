// Package ambientflow is AmbientFlow (Kelkar, Deshpande, Bhadra, Anastasio, "AmbientFlow:
// invertible generative models from incomplete, noisy measurements", 2023): a clean-image
// prior learned from corrupted observations y = A(x) + n by two normalizing flows trained
// simultaneously:
//
//   - the posterior network, a conditional flow x = G_φ(z; y), z ~ N(0, I) (core/flow, the same
//     conditional Glow FlowDiff trains), and
//   - the prior, an unconditional Glow p_θ(x) (Kingma & Dhariwal 2018): core/flow without
//     conditioning (actnorm, invertible 1x1 convolution, affine coupling, multiscale with a
//     split after every level but the last) plus learned split priors (glow.go).
//
// # Objective
//
// Per observation y, with K posterior samples x_k = G_φ(z_k; y), z_k ~ N(0, I),
//
//	L(φ, θ) = (1/K) Σ_k [ -log|det ∂G_φ/∂z (z_k; y)| + λ NLL(y | A(x_k)) - log p_θ(x_k) ]
//
// averaged over the batch and divided by the pixels per image D (nats per pixel). NLL is the
// noise model's negative log-likelihood without its constant (noise.gaussian: Σ (y-Ax)²/(2σ²)).
// L is an upper bound on -log p(y) (up to λ and constants) for λ = 1; φ and θ descend it at
// once, each with its own Adam. The gradient reaches φ through log p_θ(x_k): the prior's
// likelihood of the posterior samples is not detached, which is what makes the posterior
// follow the prior and the prior follow the posterior samples.
//
// # Units and layout
//
// Images are [N, H, W, C] float32 in the data's [0, 1] intensities; both flows work on the
// centred c = x - 1/2 (the [-1/2, 1/2] range of the authors' code; a shift, so densities of c
// and of x are equal), the posterior conditioned on y - 1/2. H and W must be divisible by
// 2^levels of each flow. Log-likelihoods are in nats (the authors report bits per dimension:
// divide the per-pixel figure by ln 2).
//
// # Variables
//
// Under /post (the posterior: /post/flow, core/flow's layout) and /prior (/prior/flow and the
// split priors /prior/split/level{l}/conv); the optimizers' state under /optim/post and
// /optim/prior (core/train's Adam).
package ambientflow
