// Package flow is the conditional normalizing flow G_φ(z; y) of FlowDiff: an invertible network
// that maps a latent z ~ N(0, I) to an image x = G(z; y) of the same shape, conditioned on an
// observation y, with an exact log-determinant. It is a conditional Glow (Kingma & Dhariwal 2018)
// in the spirit of conditional INNs (Ardizzone et al. 2019) and AmbientFlow (Kelkar et al. 2023):
// RealNVP's multiscale architecture (Dinh et al. 2017), Glow's steps, and a conditioning network
// whose features enter every coupling. Layout NHWC [batch, height, width, channels], float32 or
// float64; all layers come from core/nn, so the flow trains on the pure-Go backend.
//
// # Maps
//
// Generate computes x = G(z; y) and log|det ∂x/∂z| per sample; Inverse computes z = G⁻¹(x; y) and
// log|det ∂z/∂x| = -log|det ∂x/∂z| at the corresponding point. FlowDiff trains the flow in the
// generative direction (reverse KL: E_z[-log|det ∂G/∂z| + data fidelity + prior]); Inverse serves
// likelihoods and checks.
//
// # Architecture (generative direction)
//
// Levels l = L-1, ..., 0 (L = Config.Levels) run coarse to fine; level l works at resolution
// H/2^(l+1) x W/2^(l+1) on C_l channels, C_0 = 4C, and C_{l+1} = 2·C_l with Split (half of each
// squeeze is factored out), 4·C_l without. Each level is Config.StepsAt(l) steps (Config.Steps,
// or Config.LevelSteps[l]), each (in this order)
//
//	actnorm:   h ← (h + b_c)·e^{a_c}                         log|det| = P·Σ_c a_c
//	mixing:    h ← h·W,  W = Π·L·(U + diag(sign·e^{u}))      log|det| = P·Σ_c u_c
//	coupling:  [ha, hb] ← [ha, hb·e^{s} + t],  s = clamp·tanh(ŝ/clamp),  (ŝ, t) = NN(ha; y)
//	                                                          log|det| = Σ s
//
// with P = positions per sample at that level, Π a fixed permutation, ha the first ⌊C_l/2⌋
// channels. NN is conv3x3 -> ReLU -> conv1x1 -> ReLU -> conv3x3, Config.Hidden wide; the
// conditioning features of the level enter its first layer (see condInputs). The conditioning network is a small conv net on y
// (space-to-depth, then 3x3 convolutions and average pooling to each level's resolution).
//
// # Multiscale mapping of z
//
// z is given at full resolution [N, H, W, C] and read as Inverse produces it: with S = 2x2
// space-to-depth (nn.SpaceToDepth, channel (dy·2+dx)·C + c), S(z) splits along channels into
// [z₀, r₀] (first half z₀ is level 0's factored part), S(r₀) into [z₁, r₁], ..., and the deepest
// level takes S(r_{L-2}) whole. Generate runs level L-1 on that, then for l = L-2..0 runs level l
// on [z_l, D(h)] (D = depth-to-space), and returns x = D(h). Without Split, level L-1 starts from
// S^L(z) and each level passes D(h) up unchanged. The squeezes are permutations (log|det| 0),
// so every pixel of z is used once and z, x have the same size.
//
// # Initialization
//
// Actnorm starts at the identity (b = a = 0; no data-dependent initialization: nn.ActNormDataInit
// is available to a caller who wants Glow's). Each mixing starts at a random permutation Π seeded
// by its variable scope (L = I, U = 0, sign = +1); Π and sign stay fixed. The last layer of every
// coupling network is zero-initialized, so s = t = 0. The initial flow is therefore a fixed
// permutation of z (log|det| = 0 exactly), which makes early training well-conditioned.
//
// # Numerical safety
//
// Coupling log-scales are soft-clamped (|s| < Config.Clamp), so one coupling scales by at most
// e^clamp and Inverse never divides by less than e^-clamp; translations are unbounded but grow
// only linearly with their input (ReLU networks). Samples stay finite for |z| and |y| up to 1e3
// (tested). W⁻¹ comes from triangular Neumann series of the LU factors, refined by one
// Newton-Schulz step against W as Generate computes it.
//
// # Variables
//
// Under ctx.In(Scope) ("flow"): cond/level{l}/{in,out,proj}/conv/{weights,biases} (the
// conditioning network; proj has no bias), and level{l}/step{k}/ followed by act_norm/{bias,
// log_scale}, mix/{perm, sign (not trainable), lower, upper, log_scale} and
// coupling/{in,mid,out}/conv/{weights,biases}. Generate and Inverse create what is missing and
// reuse what exists whatever the context's Reuse/Checked mode. See docs/flow.md for parameter
// counts and training-step timings.
package flow
