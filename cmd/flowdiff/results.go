package main

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func resultsCommand() *cli.Command {
	return &cli.Command{
		Name:      "results",
		Usage:     "write the paper-reproduction page (docs/results.md) from suite folders of scripts/paper-gpu.sh",
		ArgsUsage: "SUITE_DIR...",
		Description: "Reads each suite folder's run folders (mnist, mnist-reset, cifar-dog, tubulin, tubulin-dps) and calls.tsv and\n" +
			"writes one Markdown page: the paper's Tables 1, 2 and 4 with its figures next to ours, the prior check (FID/KID\n" +
			"against the observations', the MNIST classifier's confidence), and each run's machine, backend, date, wall time,\n" +
			"steps and grids. Several suites (cpu, gpu) give one row each; missing runs are listed as pending (docs/paper.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Value: "docs/results.md", Usage: "the Markdown file to write; image links are relative to its folder"},
			&cli.StringFlag{Name: "baselines", Usage: "a folder of finished run folders, one per method on the same observations (make baselines): their `flowdiff table` is written next to --out and included as a section"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("results needs suite folders, e.g. `flowdiff results runs/paper-cpu-...`")
			}
			if err := pipelines.WriteResults(c.Context, c.Args().Slice(), c.String("baselines"), c.String("out")); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, c.String("out"))
			return nil
		},
	}
}
