// Package bm3d is a pure-Go BM3D image denoiser for additive white Gaussian noise: Dabov,
// Foi, Katkovnik and Egiazarian, "Image denoising by sparse 3-D transform-domain collaborative
// filtering", IEEE Transactions on Image Processing 16(8):2080-2095, 2007, with the parameter
// profiles of the authors' reference MATLAB implementation (BM3D.m, Tampere University).
//
// # Model and units
//
// The observation is z = y + sigma*n with n ~ N(0, 1) i.i.d. per pixel. Denoise takes z in the
// image's own units, sigma in the same units, and Options.Peak, the intensity of white in those
// units (1 for images in [0, 1], the default). Internally z and sigma are multiplied by
// 255/Peak, because the reference thresholds below are stated on the [0, 255] scale; the output
// is scaled back. Values outside [0, Peak] are allowed and never clipped.
//
// # Algorithm
//
// Both stages slide a reference block Z_R of N1 x N1 pixels over the image with step Nstep (the
// last row and column of positions are always included, so every pixel is covered), and for
// each one:
//
//  1. Block matching: every block Z_x whose top-left corner lies in the NS x NS window centred
//     on Z_R's (clipped at the borders, full search) is compared with Z_R by
//     d(Z_R, Z_x) = ||T2D(Z_R) - T2D(Z_x)||_2^2 / N1^2. Blocks with d < tau_match are sorted by
//     d (Z_R first, ties in scan order) and the best N2 kept, rounded down to a power of 2
//     because the 1D transform along the group is a full Haar decomposition.
//  2. The group, a 3D array of the matched blocks, is transformed: T2D on each block, then the
//     orthonormal 1D Haar transform along the group, and shrunk (below).
//  3. The inverse 3D transform gives an estimate of every block of the group; each is added to
//     the image with the weight w_R times a 2D Kaiser window (beta = 2), and the estimate is
//     the weighted sum divided by the sum of weights (aggregation).
//
// Stage 1 (basic estimate) matches on T2D(z) with T2D the 2D biorthogonal spline wavelet
// Bior1.5, full dyadic decomposition with periodic extension, rows normalised to unit norm
// (as MATLAB's wavedec with dwtmode 'per'; the inverse is the matrix inverse, the transform is
// not orthogonal); coefficients below lambda_2D*sigma are zeroed before the distance is taken.
// The group's 3D coefficients are hard-thresholded at lambda_3D*sigma and
// w_R = 1/(sigma^2 * N_nonzero), N_nonzero the number of coefficients kept (a group with none
// kept counts as one).
//
// Stage 2 (final estimate) matches on the basic estimate yb, with T2D the orthonormal 2D
// DCT-II (so d is the pixel distance), groups the same positions in yb and in z, and applies the
// empirical Wiener shrinkage W = |T3D(yb)|^2 / (|T3D(yb)|^2 + sigma^2) to T3D(z), with
// w_R = 1/(sigma^2 * ||W||_2^2).
//
// # Profiles
//
// Thresholds tau_match are in units of squared [0, 255] intensity per pixel. Values (reference
// BM3D.m; "np" is the normal profile, "vn" what BM3D.m switches to for sigma > 40 on the
// [0, 255] scale, "vn_old" the paper's Table 1 values for sigma > 40):
//
//	                       np            vn            vn_old
//	stage 1 T2D            bior1.5       bior1.5       DCT
//	stage 1 N1, Nstep      8, 3          8, 4          12, 4
//	stage 1 N2, NS         16, 39        32, 39        16, 39
//	stage 1 tau_match      3000          25000         5000
//	lambda_2D, lambda_3D   0, 2.7        0, 2.8        2.0, 2.8
//	stage 2 N1, Nstep      8, 3          11, 6         11, 6
//	stage 2 N2, NS         32, 39        32, 39        32, 39
//	stage 2 tau_match      400           3500          3500
//	Kaiser beta            2, 2          2, 2          2, 2
//
// The paper's Table 1 gives tau_match = 2500 for stage 1 of the normal profile; BM3D.m uses
// 3000, and the published BM3D figures (the paper's and those quoted by later work) come from
// BM3D.m, so this package follows BM3D.m. Two speed devices of the reference are not
// reproduced: the larger sliding step after a very sparse group (thrToIncStep) and the
// non-exhaustive block matching of the fast "lc" profile; both only trade quality for time.
//
// # Images with several channels
//
// DenoiseBatch denoises each image of a [N, H, W, C] batch and each channel independently,
// with the same sigma (the reference MATLAB BM3D for colour images works in an opponent colour
// space and matches on luminance only; that variant, CBM3D, is not implemented). Grayscale is
// the verified case (docs/bm3d.md).
//
// # Poisson-Gaussian data
//
// DenoisePG runs BM3D on data z = a·Poisson(λ) + c + N(0, σ²) (photon-counting cameras,
// noise.poisson_gaussian) inside the generalized Anscombe transform, with sigma 1 in the
// transformed domain, and maps the result back with the exact unbiased inverse of Mäkitalo &
// Foi (IEEE TIP 22(1), 2013), tabulated numerically (vst.go states the maths). GAT exposes the
// transform and its inverse.
//
// # Determinism and parallelism
//
// Reference rows are cut into fixed chunks processed by Options.Workers goroutines, each chunk
// aggregating into its own buffer; the buffers are summed into the image in chunk order. The
// output is therefore bit-for-bit the same whatever the number of workers.
package bm3d
