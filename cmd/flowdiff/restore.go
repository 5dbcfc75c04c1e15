package main

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/observe"
	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore observation files (files, folders, stacks) with a finished run's models",
		ArgsUsage: "RUN_DIR INPUT...",
		Description: "Restores every image of the inputs (PNG, JPEG, TIFF stacks, MRC/MRCS, NPY; folders walked recursively)\n" +
			"into --out, keeping file names, format and sample type (a JPEG comes back as PNG):\n" +
			"  <name>          the mean restoration, in the input's units and type (clipped samples counted)\n" +
			"  std/<name>      the per-pixel standard deviation over the draws (float32; TIFF for PNG/JPEG inputs)\n" +
			"  samples/<name>  --samples draws per image, a stack (with --samples)\n" +
			"  <name>.json     settings, timing, scaling, outputs with checksums, residual diagnostics\n" +
			"flow: draws of the conditional flow's posterior; dps: diffusion posterior sampling with the run's prior.\n" +
			"Images up to 1024x1024 are restored whole (tiling auto), larger ones by overlapping tiles of the\n" +
			"training size blended with raised-cosine ramps. A rerun skips files whose sidecar and outputs are\n" +
			"intact; a file that fails is reported and the others go on (exit code 1 at the end). --shard K/N\n" +
			"restores only the inputs of shard K (0..N-1), for job arrays. See docs/restore.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output folder (required; never one of the inputs' own files)"},
			&cli.StringFlag{Name: "method", Value: "flow", Usage: "flow (posterior mean and std of the conditional flow) or dps (diffusion posterior sampling)"},
			&cli.IntFlag{Name: "samples", Usage: "draws written out per image (0: only mean and std)"},
			&cli.IntFlag{Name: "draws", Usage: "draws per image for the mean and std (default: the run's train.posterior_samples for flow, 1 for dps)"},
			&cli.StringFlag{Name: "tiling", Value: "auto", Usage: "auto (whole up to 1024x1024 pixels, else tiles), whole or tiles"},
			&cli.IntFlag{Name: "tile", Usage: "tile side in pixels (default: the run's data.size)"},
			&cli.IntFlag{Name: "overlap", Usage: "tile overlap in pixels (default: a quarter of the tile; -1: none)"},
			&cli.IntFlag{Name: "batch", Usage: "tiles per model call (default: the run's train.batch)"},
			&cli.IntFlag{Name: "steps", Usage: "dps: denoising steps with guidance (default: the run's sample.dps.steps)"},
			&cli.Float64Flag{Name: "zeta", Usage: "dps: step size (default: the run's sample.dps.zeta)"},
			&cli.Int64Flag{Name: "seed", Usage: "noise seed (default: the run's restore stream)"},
			&cli.StringFlag{Name: "mask", Usage: "the inputs' measured masks, for a run whose forward model has mask.file: one mask file for all inputs, or a folder matched by name (default: the run's mask.file path)"},
			&cli.StringFlag{Name: "shard", Usage: "K/N: restore only shard K of N (0 <= K < N), e.g. $SLURM_ARRAY_TASK_ID/8"},
			backendFlag(),
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef("restore needs the run folder and at least one input, e.g. `flowdiff restore runs/fmd-... noisy/ --out restored/`")
			}
			shard, err := observe.ParseShard(c.String("shard"))
			if err != nil {
				return usageError{err}
			}
			if c.String("out") == "" {
				return usagef("restore needs --out: the folder of the restored files")
			}
			sum, err := pipelines.Restore(c.Context, pipelines.RestoreRequest{
				RunDir: c.Args().First(), Inputs: c.Args().Slice()[1:], Out: c.String("out"), Method: c.String("method"),
				Samples: c.Int("samples"), Draws: c.Int("draws"), Tiling: c.String("tiling"), Tile: c.Int("tile"),
				Overlap: c.Int("overlap"), Batch: c.Int("batch"), Steps: c.Int("steps"), Zeta: c.Float64("zeta"),
				Seed: c.Int64("seed"), Mask: c.String("mask"), Shard: shard, Backend: c.String("backend"), Log: logger(c)})
			if sum != nil {
				fmt.Fprintf(c.App.Writer, "restored %d, skipped %d (done before), failed %d of %d files; %d samples clipped; %.1f s\n",
					sum.Restored, sum.Skipped, len(sum.Failed), sum.Files, sum.Clipped, sum.Seconds)
			}
			return err
		},
	}
}
