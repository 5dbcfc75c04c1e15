package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/urfave/cli/v2"
)

func backendFlag() cli.Flag {
	return &cli.StringFlag{Name: "backend", Usage: "GoMLX backend: go (pure Go, default), xla:cpu or xla:cuda (need a PJRT plugin). " +
		"Precedence: this flag, the pipeline's backend:, $GOMLX_BACKEND"}
}

func profileFlag() cli.Flag {
	return &cli.StringFlag{Name: "profile", Usage: "overlay the pipeline's profiles.NAME section (e.g. gpu, cpu, toy) before running; see docs/paper.md"}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a pipeline end to end into a run folder",
		ArgsUsage: "PIPELINE.yaml | --resume RUN_DIR",
		Description: "Executes the stages " + strings.Join(pipelines.StageNames(), " -> ") + ", skipping those the pipeline leaves out.\n" +
			"The run folder holds pipeline.yaml (resolved, every default filled in), run.log, state.json,\n" +
			"metrics.json and the stages' outputs. An interrupted run continues with --resume RUN_DIR.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "run folder (default runs/<name>-<time>); must be new or empty"},
			&cli.StringFlag{Name: "resume", Usage: "continue the run in this folder from its finished stages"},
			profileFlag(),
			backendFlag(),
		},
		OnUsageError: subcommandUsageError,
		Action: func(c *cli.Context) error {
			opts := pipelines.Options{Out: c.String("out"), Backend: c.String("backend"), Log: logger(c)}
			var p *pipelines.Pipeline
			switch {
			case c.String("resume") != "":
				if c.NArg() > 0 || c.String("profile") != "" {
					return usagef("run --resume takes the run folder only, not a pipeline (the run keeps its own copy)")
				}
				opts.Out, opts.Resume = c.String("resume"), true
			case c.NArg() == 1:
				var err error
				if p, err = pipelines.LoadProfile(c.Args().First(), c.String("profile")); err != nil {
					return err
				}
			default:
				return usagef("run needs one pipeline file, e.g. `flowdiff run flowdiff.yaml`")
			}
			dir, err := pipelines.Execute(c.Context, p, opts)
			if err != nil {
				if dir != "" {
					return fmt.Errorf("%w\n%s", err, continueHint(err, dir))
				}
				return err
			}
			fmt.Fprintln(c.App.Writer, dir)
			return nil
		},
	}
}

// continueHint tells the user of a failed run what to change and how to continue. The run
// reads its own copy of the pipeline, RUN/pipeline.yaml, on --resume: a setting is changed
// there, not in the file the run started from.
func continueHint(err error, dir string) string {
	edit := filepath.Join(dir, pipelines.PipelineFileName)
	var le *pipelines.LoadError
	if errors.As(err, &le) { // a part refused its settings before any stage ran
		if filepath.Clean(le.File) == filepath.Clean(edit) {
			return fmt.Sprintf("(no stage ran; edit %s, the copy of the pipeline that --resume reads, then continue with `flowdiff run --resume %s`)", edit, dir)
		}
		return fmt.Sprintf("(no stage ran; fix %s and start a new run, or edit %s, the run's own copy that --resume reads, and continue with `flowdiff run --resume %s`)",
			le.File, edit, dir)
	}
	var pe *host.Error
	if errors.As(err, &pe) && !pe.Refused {
		// A dead plugin stays failed within one run; --resume is a new process.
		return fmt.Sprintf("(finished stages and training checkpoints are kept in %s; once plugin %s works again (fixed and re-sealed, or simply killed from outside), "+
			"continue with `flowdiff run --resume %s`: it starts a fresh plugin process)", dir, pe.Plugin, dir)
	}
	return fmt.Sprintf("(finished stages are kept in %s; --resume reads the run's own copy of the pipeline: to change a setting, edit %s "+
		"(not the file the run started from), then continue with `flowdiff run --resume %s`)", dir, edit, dir)
}
