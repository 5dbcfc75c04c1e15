// Package baselines trains the single-network methods that FlowDiff is compared with
// (docs/baselines.md): each learns a diffusion model's U-Net (under /unet, as core/train's) from
// the run's training images with its own objective, on the schedule of the pipeline's train
// section, so the sample stage draws prior samples and DPS restorations from any of them alike.
// Images are [N,H,W,C] float32 in [0,1] intensities; the networks work in model units
// u = 2x - 1 (DDPM's [-1,1]); losses are reported per pixel.
//
// The objectives (Objective; Trainer runs any of them):
//
//   - DDPM (Ho et al. 2020, L_simple) on given images:
//     E_{t,eps} ||eps - eps_theta(sqrt(abar_t) u + sqrt(1-abar_t) eps, t)||² / D.
//     The naive baseline trains it on the observations y as if they were clean; the clean-data
//     oracle (the paper's Table 5) on the clean training images.
//
//   - SUREScore (Aali et al. 2023, "Solving inverse problems with score-based generative priors
//     learned from noisy data"), Gaussian denoising y = x + sigma n. One network serves as the
//     denoiser D(u) = u + sigma² s(u; sigma) = u - sigma eps_theta(sqrt(abar*) u, t*), t* the
//     step where (1-abar)/abar = sigma² (sigma in model units, twice the intensity sigma),
//     trained with Stein's unbiased risk estimate
//     SURE = ||D(u)-u||²/n + 2 sigma² bᵀ(D(u+eps b) - D(u))/(eps n) - sigma²
//     plus the denoising score-matching loss on D(u), its weight ramped from 0.
//
//   - Ambient (Daras et al. 2023, "Ambient Diffusion: learning clean distributions from
//     corrupted data"), masked observations y = A x: a network x0_hat(A~ x_t, A~, t) (EDM's
//     preconditioning around h_theta([c_in A~ x_t, A~], t), AmbientX0) predicting x0 from the
//     further-corrupted A~ = A ⊙ Bernoulli(1-delta), scored only on the pixels A observes:
//     E ||A (x0_hat - u) / c_out||² / D.
//
// Amortized restorations (restore.go): SURE-Score's D(y), and Ambient Diffusion's x0 estimate
// from the observed pixels; the DPS restorations and prior samples come from the sample stage
// (core/diffusion), with AmbientEps for Ambient Diffusion's x0 network.
package baselines
