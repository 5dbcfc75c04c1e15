package main

import (
	"errors"
	"os"

	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/noiseest"
	"github.com/urfave/cli/v2"
)

func estimateNoiseCommand() *cli.Command {
	return &cli.Command{
		Name:      "estimate-noise",
		Usage:     "estimate the noise level of images from the noisy images alone (Gaussian sigma or Poisson-Gaussian a, b)",
		ArgsUsage: "FILE|DIR...",
		Description: "Prints one estimate per file and one pooled over all files, each with a block-bootstrap standard\n" +
			"error, in the units a pipeline sees the data in (core/data's [0,1] normalization, --normalize as the\n" +
			"pipeline's data.normalize). Methods, measured accuracy and limits: docs/noise-estimation.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: string(noiseest.ModelGaussian), Usage: "gaussian (sigma) or poisson-gaussian (var = a*x + b)"},
			&cli.StringFlag{Name: "method", Value: string(noiseest.DefaultMethod), Usage: "gaussian estimator: wavelet-mad-screened, wavelet-mad, immerkaer-sobel or immerkaer"},
			&cli.StringFlag{Name: "normalize", Value: string(data.RangeNormalization), Usage: "range (v/255, v/65535) or percentile (per image, 2nd..99.8th), as data.normalize"},
			&cli.Float64Flag{Name: "offset", Usage: "poisson-gaussian: known camera baseline in normalized units (var = a*(x - offset) + b)"},
			&cli.BoolFlag{Name: "recursive", Usage: "descend into sub-folders of DIR"},
			&cli.BoolFlag{Name: "json", Usage: "print the estimates as JSON"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("estimate-noise needs at least one image file or folder")
			}
			opts := noiseest.PathOptions{Model: noiseest.Model(c.String("model")),
				Gaussian: noiseest.GaussianOptions{Method: noiseest.Method(c.String("method"))},
				PG:       noiseest.PGOptions{Offset: c.Float64("offset")}}
			if err := opts.Check(); err != nil {
				return usageError{err}
			}
			load, err := noiseest.DataLoader(data.Normalization(c.String("normalize")))
			if err != nil {
				return usageError{err}
			}
			files, err := noiseest.ExpandPaths(c.Args().Slice(), c.Bool("recursive"))
			if err != nil {
				return usageError{err}
			}
			r, err := noiseest.EstimatePaths(files, load, opts)
			var pe *os.PathError
			switch {
			case errors.As(err, &pe):
				return usageError{err}
			case err != nil:
				return err
			}
			if c.Bool("json") {
				return r.WriteJSON(c.App.Writer)
			}
			return r.WriteText(c.App.Writer)
		},
	}
}
