package main

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func corruptCommand() *cli.Command {
	return &cli.Command{
		Name:      "corrupt",
		Usage:     "run a pipeline's data and corrupt stages only: write observations and their per-sample parameters",
		ArgsUsage: "PIPELINE.yaml",
		Description: "Writes <out>/corrupted/{train,test}/ in the documented store format (docs/operators.md):\n" +
			"observations.npy, params/*.npy, clean/clean.npy (kept apart, for evaluation only) and manifest.json\n" +
			"with checksums. The same pipeline and seed give the same bytes.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "run folder (default runs/<name>-<time>); must be new or empty"},
			backendFlag(),
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("corrupt needs one pipeline file")
			}
			p, err := pipelines.Load(c.Args().First())
			if err != nil {
				return err
			}
			if p.Data == nil || len(p.Corruption) == 0 {
				return usagef("%s: corrupt needs a data section and a corruption list", c.Args().First())
			}
			dir, err := pipelines.Execute(c.Context, p.Only("data", "corrupt"), pipelines.Options{
				Out: c.String("out"), Backend: c.String("backend"), Log: logger(c)})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, dir)
			return nil
		},
	}
}
