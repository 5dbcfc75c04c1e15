package main

import (
	"encoding/json"
	"math"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/urfave/cli/v2"
)

func metricsCommand() *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "compare two images, or two folders of images paired by file name, with the registered metrics",
		Description: "Images are read as RGB (a pair that is gray on both sides is scored as one channel), intensities\n" +
			"in [0,1]. A metric that cannot run (LPIPS without its weights file, FID/KID on images that are not 28x28 gray)\n" +
			"is reported as unavailable, never as 0. Set metrics (FID, KID) compare all --ref images with all --img images\n" +
			"as two sets and give one value.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ref", Required: true, Usage: "reference image or folder (the clean images)"},
			&cli.StringFlag{Name: "img", Required: true, Usage: "image or folder to score against --ref"},
			&cli.StringSliceFlag{Name: "metric", Usage: "metric IDs (repeatable); default: every registered metric"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON (per-pair values included)"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			res, err := metrics.ComparePaths(c.Context, c.String("ref"), c.String("img"), c.StringSlice("metric"))
			if err != nil {
				return usageError{err}
			}
			if c.Bool("json") {
				for i := range res.Metrics { // JSON has no Inf: identical images give PSNR +Inf
					m := &res.Metrics[i]
					if m.Summary != nil && math.IsInf(m.Summary.Mean, 0) {
						m.Unavailable = "infinite (identical images)"
						m.Summary, m.Values = nil, nil
					}
					for j, v := range m.Values {
						if math.IsInf(v, 0) {
							m.Values[j] = math.MaxFloat64
						}
					}
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return res.WriteTable(c.App.Writer)
		},
	}
}
