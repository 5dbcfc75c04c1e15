package main

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/bm3d"
	"github.com/flowdiff/flowdiff-go/core/bm3d/bm3dfiles"
	"github.com/urfave/cli/v2"
)

func bm3dCommand() *cli.Command {
	return &cli.Command{
		Name:      "bm3d",
		Usage:     "denoise images with BM3D (classical baseline, no run needed): additive white Gaussian noise of known sigma, or Poisson-Gaussian noise (--gain) through the generalized Anscombe transform",
		ArgsUsage: "INPUT... (.png .jpg .tif .mrc .npy files, or folders of them)",
		Description: "Each input is written under --out with its own name, format and sample type (JPEG as PNG); see docs/bm3d.md.\n" +
			"Sigma is in the intensities as read: integer samples are read as [0,1] of their range (8-bit value/255,\n" +
			"16-bit value/65535); float samples (.npy, float TIFF/MRC) as stored, --peak being the intensity of white\n" +
			"(default 1). Stacks and colour are denoised image by image and channel by channel. Inputs are never\n" +
			"overwritten. A file that fails is reported and the others go on; the exit code is then 1.",
		Flags: []cli.Flag{
			&cli.Float64Flag{Name: "sigma", Usage: "noise standard deviation in the intensities as read (e.g. 0.098 for 25 8-bit levels); required; with --gain the read noise (may be 0)"},
			&cli.Float64Flag{Name: "gain", Usage: "Poisson-Gaussian data: var = gain*(mean - offset) + sigma^2 (noise.poisson_gaussian's gain; estimate-noise --model poisson-gaussian's a), in the intensities as read; denoised through the generalized Anscombe transform"},
			&cli.Float64Flag{Name: "offset", Usage: "with --gain: the camera offset (black level) in the intensities as read"},
			&cli.StringFlag{Name: "out", Usage: "output folder (created if needed); required"},
			&cli.Float64Flag{Name: "peak", Value: 1, Usage: "intensity of white of float inputs (integer samples are read into [0,1])"},
			&cli.StringFlag{Name: "profile", Usage: "BM3D parameter profile: np, vn or vn_old (default: np, vn above sigma 40/255 of the peak)"},
			&cli.IntFlag{Name: "workers", Usage: "goroutines per image (default GOMAXPROCS)"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("bm3d needs at least one input image or folder")
			}
			if !c.IsSet("sigma") || !c.IsSet("out") {
				return usagef("bm3d needs --sigma (the noise level) and --out (the output folder)")
			}
			gain := c.Float64("gain")
			switch s := c.Float64("sigma"); {
			case c.IsSet("gain") && !(gain > 0):
				return usagef("--gain must be positive, got %v", gain)
			case gain > 0 && !(s >= 0):
				return usagef("--sigma (the read noise with --gain) must be >= 0, got %v", s)
			case gain == 0 && !(s > 0):
				return usagef("--sigma must be positive, got %v", s)
			case c.IsSet("offset") && gain == 0:
				return usagef("--offset belongs to --gain (Poisson-Gaussian data)")
			}
			if p := c.Float64("peak"); !(p > 0) {
				return usagef("--peak must be positive, got %v", p)
			}
			profile := bm3d.Profile(c.String("profile"))
			if _, err := bm3d.ProfileParams(profile, 0); err != nil {
				return usageError{err}
			}
			jobs, err := bm3dfiles.Plan(c.Args().Slice(), c.String("out"), c.Float64("sigma"))
			if err != nil {
				return usageError{err}
			}
			failed := bm3dfiles.Run(c.Context, jobs, bm3dfiles.Options{Sigma: c.Float64("sigma"), Gain: gain, Offset: c.Float64("offset"), Peak: c.Float64("peak"),
				Profile: profile, Workers: c.Int("workers"), Log: logger(c)})
			for _, f := range failed {
				fmt.Fprintf(c.App.ErrWriter, "failed: %s: %v\n", f.Input, f.Err)
			}
			if len(failed) > 0 {
				return fmt.Errorf("bm3d: %d of %d files failed (listed above); the other %d were written to %s",
					len(failed), len(jobs), len(jobs)-len(failed), c.String("out"))
			}
			fmt.Fprintf(c.App.Writer, "denoised %d files into %s\n", len(jobs), c.String("out"))
			return nil
		},
	}
}
