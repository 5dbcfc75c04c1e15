package main

import (
	"fmt"
	"runtime/debug"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a pipeline and report every problem with its field path and line",
		ArgsUsage: "[PIPELINE.yaml]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "print the reference of every pipeline field with its default (Markdown)"},
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			if c.Bool("explain") {
				fmt.Fprint(c.App.Writer, pipelines.Reference())
				if c.NArg() == 0 {
					return nil
				}
			}
			if c.NArg() != 1 {
				return usagef("validate needs one pipeline file")
			}
			if _, err := pipelines.Load(c.Args().First()); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: valid\n", c.Args().First())
			return nil
		},
	}
}

// version is set at build time with -ldflags "-X main.version=..."; otherwise it comes from
// the module's build information.
var version = ""

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of flowdiff, its pipeline schema, Go and GoMLX",
		Action: func(c *cli.Context) error {
			v, gomlx, goVersion := version, "unknown", "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if v == "" {
					v = bi.Main.Version
				}
				for _, d := range bi.Deps {
					if d.Path == "github.com/gomlx/gomlx" {
						gomlx = d.Version
					}
				}
			}
			if v == "" || v == "(devel)" {
				v = "devel"
			}
			fmt.Fprintf(c.App.Writer, "flowdiff %s\npipeline schema version %d\ngo %s\ngomlx %s\n", v, pipelines.SchemaVersion, goVersion, gomlx)
			return nil
		},
	}
}
