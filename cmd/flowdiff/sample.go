package main

import (
	"fmt"
	"sort"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func sampleCommand() *cli.Command {
	return &cli.Command{
		Name:      "sample",
		Usage:     "sample with a finished run's trained diffusion prior (no retraining): prior samples or DPS restorations",
		ArgsUsage: "RUN_DIR",
		Description: "Loads the EMA weights of the diffusion model from RUN_DIR/train/checkpoints and draws\n" +
			"  ddim, ancestral: --n unconditional samples;\n" +
			"  dps: restorations of the first --n test observations (diffusion posterior sampling), scored\n" +
			"       against the clean test images (PSNR, SSIM of the samples and of the observations);\n" +
			"       with --problem NAME, the run's sample.problems entry NAME instead: its observations of the\n" +
			"       first --n clean test images (the run's own when --n is sample.dps.images) through its model.\n" +
			"Unset flags take the run's sample section (or its defaults). Writes <sampler>.npy and .png into --out\n" +
			"(default RUN_DIR/samples/<sampler>-<settings>); an interrupted call resumes from its finished batches.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "sampler", Usage: "ddim, ancestral or dps (default: the run's sample.prior.sampler)"},
			&cli.IntFlag{Name: "steps", Usage: "ddim: DDIM steps; dps: denoising steps with guidance (0: all T)"},
			&cli.Float64Flag{Name: "zeta", Usage: "dps step size on the gradient of the residual norm (model units)"},
			&cli.IntFlag{Name: "n", Usage: "prior samples, or the first N test observations for dps"},
			&cli.StringFlag{Name: "problem", Usage: "dps: a sample.problems entry of the run (e.g. deblur) instead of its own corruption"},
			&cli.Int64Flag{Name: "seed", Usage: "noise seed (default: the run's sample streams)"},
			&cli.StringFlag{Name: "out", Usage: "output folder"},
			backendFlag(),
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("sample needs the run folder, e.g. `flowdiff sample runs/mnist-denoise-...`")
			}
			res, err := pipelines.SampleFromRun(c.Context, pipelines.SampleRequest{
				RunDir: c.Args().First(), Sampler: c.String("sampler"), Steps: c.Int("steps"), Zeta: c.Float64("zeta"),
				N: c.Int("n"), Problem: c.String("problem"), Seed: c.Int64("seed"), Out: c.String("out"), Backend: c.String("backend"), Log: logger(c)})
			if err != nil {
				return err
			}
			names := make([]string, 0, len(res.Scores))
			for k := range res.Scores {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				fmt.Fprintf(c.App.Writer, "%s\t%.4f\n", k, res.Scores[k])
			}
			fmt.Fprintln(c.App.Writer, res.Out)
			return nil
		},
	}
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write a run folder's report.md and report.html (self-contained) from its outputs",
		ArgsUsage: "RUN_DIR",
		Description: "Tables of the run's metrics.json (PSNR/SSIM/LPIPS/FID of the observations, the flow posterior, DPS),\n" +
			"posterior calibration, image grids, prior samples and training curves; the report stage of `flowdiff run`\n" +
			"writes the same files.",
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("report needs the run folder")
			}
			if err := pipelines.WriteReport(c.Context, c.Args().First(), logger(c)); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, c.Args().First())
			return nil
		},
	}
}

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "check a run's metrics against a golden file; fails (exit code 1) when a metric regressed past its tolerance",
		ArgsUsage: "RUN_DIR GOLDEN.json",
		Description: "The golden file maps metric names of metrics.json to {value, tolerance, higher_is_better}: a value\n" +
			"worse than the golden one by more than the tolerance, or a missing metric, fails; better values pass.",
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("compare needs the run folder and the golden file, e.g. `flowdiff compare RUN testdata/golden/quick.json`")
			}
			cmp, err := pipelines.Compare(c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return usageError{err}
			}
			if err := cmp.Write(c.App.Writer); err != nil {
				return err
			}
			if cmp.Failed > 0 {
				return fmt.Errorf("%d metric(s) regressed against %s", cmp.Failed, c.Args().Get(1))
			}
			return nil
		},
	}
}
