package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func tableCommand() *cli.Command {
	return &cli.Command{
		Name:      "table",
		Usage:     "compare finished runs of the same observations (one per method) in one table: markdown, CSV and HTML",
		ArgsUsage: "RUN_DIR...",
		Description: "Reads the run folders only (pipeline.yaml, metrics.json, state.json, train/machine.json and the\n" +
			"restorations) and writes table.md, table.csv, table.html (self-contained) and restorations.png: the\n" +
			"amortized restorations (the paper's Table 1), DPS with each learned prior (Table 2), prior samples,\n" +
			"each method's training time and machine, the fairness rule and whether the runs meet it, and the\n" +
			"paper's figures where it has them. The runs must share their test observations (docs/baselines.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output folder (default runs/table-<time>)"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("table needs run folders, e.g. `flowdiff table runs/baselines/*`")
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", "table-"+time.Now().Format("20060102-150405"))
			}
			if err := pipelines.WriteTable(c.Context, c.Args().Slice(), out, logger(c)); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, out)
			return nil
		},
	}
}
