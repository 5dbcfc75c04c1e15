package main

import (
	"github.com/urfave/cli/v2"

	"github.com/flowdiff/flowdiff-go/pipelines"
)

func curveCommand() *cli.Command {
	return &cli.Command{
		Name:      "curve",
		Usage:     "the training record of finished runs as Markdown: machine, wall times, peak memory, figures and the validation PSNR against training time",
		ArgsUsage: "RUN_DIR...",
		Description: "Reads the run folders only (pipeline.yaml, metrics.json, state.json, train/machine.json and\n" +
			"train/validation.csv, which train.validate writes). Prints Markdown, or with --doc FILE replaces the\n" +
			"section of FILE between \"" + pipelines.CurveBegin + "\" and \"" + pipelines.CurveEnd + "\".",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "doc", Usage: "Markdown file whose generated section is replaced (e.g. docs/training.md)"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("curve needs run folders, e.g. `flowdiff curve runs/mnist-denoise-...`")
			}
			if doc := c.String("doc"); doc != "" {
				return pipelines.WriteCurveDoc(doc, c.Args().Slice())
			}
			return pipelines.WriteCurve(c.App.Writer, c.Args().Slice())
		},
	}
}
