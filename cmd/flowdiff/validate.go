package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a pipeline and report every problem with its field path and line",
		ArgsUsage: "[PIPELINE.yaml]",
		Description: "Decodes the pipeline strictly, then configures every part it names (operators, noise model,\n" +
			"priors, metrics), so that every rule a part has is checked: a plugin part's rules run in its own\n" +
			"process, which validate starts. --offline skips the plugin parts and says which were not checked.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "print the reference of every pipeline field with its default (Markdown)"},
			&cli.BoolFlag{Name: "offline", Usage: "do not start plugins: their parts' own rules are not checked (listed)"},
			&cli.StringFlag{Name: "profile", Usage: "check only this profile (profiles.NAME); without it the document and each of its profiles are checked"},
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
			file := c.Args().First()
			profiles := []string{c.String("profile")}
			if profiles[0] == "" {
				names, _ := pipelines.Profiles(file) // an unreadable file: LoadProfile says why
				profiles = append(profiles, names...)
			}
			for _, profile := range profiles {
				if err := validateOne(c, file, profile); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// validateOne checks file with one profile ("" for the document as written).
func validateOne(c *cli.Context, file, profile string) error {
	p, err := pipelines.LoadProfile(file, profile)
	if err != nil {
		if profile != "" {
			return fmt.Errorf("profile %s: %w", profile, err)
		}
		return err
	}
	rep, err := p.Configure(c.Context, c.Bool("offline"))
	if err != nil {
		return err
	}
	name := file
	if profile != "" {
		name += " --profile " + profile
	}
	fmt.Fprintf(c.App.Writer, "%s: valid (%d parts configured)\n", name, rep.Configured)
	for _, n := range rep.Notes {
		fmt.Fprintf(c.App.Writer, "  note: %s (the run reports it unavailable)\n", n)
	}
	if len(rep.Deferred) > 0 {
		fmt.Fprintf(c.App.Writer, "  checked by the run once it has estimated the auto parameters: %s\n", strings.Join(rep.Deferred, "; "))
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(c.App.Writer, "  not checked (--offline: plugins not started): %s\n", strings.Join(rep.Skipped, "; "))
	}
	return nil
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
