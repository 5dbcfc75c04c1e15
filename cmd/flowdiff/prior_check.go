package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/flowdiff/flowdiff-go/pipelines"
)

func priorCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "prior-check",
		Usage:     "has a run's diffusion prior learned clean images? Its one-step denoising gain on clean test images at small noise levels, as a Markdown table",
		ArgsUsage: "RUN_DIR...",
		Description: "Loads each run's EMA prior (the last checkpoint) and its clean test images, adds Gaussian noise of each\n" +
			"--sigma (in [0,1] intensity units) and prints the PSNR gain of the prior's one-step (Tweedie) estimate over the\n" +
			"noisy input: near 0 dB where the prior takes the noise for image content. The same check as a pipeline's\n" +
			"sample.prior_check, with the run's noise stream. With --doc FILE it replaces the section of FILE between\n" +
			"\"" + pipelines.PriorCheckBegin + "\" and \"" + pipelines.PriorCheckEnd + "\".",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "images", Value: 100, Usage: "clean test images per noise level (the first of the run's test set)"},
			&cli.Float64SliceFlag{Name: "sigma", Value: cli.NewFloat64Slice(0.02, 0.05, 0.1, 0.2), Usage: "noise standard deviations in [0,1] units (repeat the flag for several)"},
			&cli.StringFlag{Name: "doc", Usage: "Markdown file whose generated section is replaced (e.g. docs/training.md)"},
			backendFlag(),
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("prior-check needs run folders, e.g. `flowdiff prior-check runs/mnist-denoise-...`")
			}
			if c.Int("images") < 1 {
				return usagef("--images must be at least 1")
			}
			sigmas := c.Float64Slice("sigma")
			for _, s := range sigmas {
				if !(s > 0 && s <= 1) {
					return usagef("--sigma %v: give a noise standard deviation in (0, 1], such as 0.05", s)
				}
			}
			var rows []*pipelines.PriorCheckRow
			for _, dir := range c.Args().Slice() {
				row, err := pipelines.CheckRunPrior(c.Context, dir, c.String("backend"), c.Int("images"), sigmas)
				if err != nil {
					return err
				}
				rows = append(rows, row)
			}
			be := c.String("backend")
			if be == "" {
				be = "go"
			}
			if doc := c.String("doc"); doc != "" {
				if err := pipelines.WritePriorCheckDoc(doc, rows, be); err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "prior check of %d run(s) written into %s\n", len(rows), doc)
				return nil
			}
			return pipelines.WritePriorChecks(c.App.Writer, rows, be)
		},
	}
}
