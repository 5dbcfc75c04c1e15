// Command flowdiff is FlowDiff-Go's command line: it parses flags and hands the work to the
// pipelines package. Exit codes: 0 success, 1 run failure, 2 usage or pipeline error.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowdiff/flowdiff-go/pipelines"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// usageError marks mistakes in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run is main without os.Exit, for tests.
func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "flowdiff:", err)
	var ue usageError
	var le *pipelines.LoadError
	switch {
	case errors.As(err, &ue), errors.As(err, &le):
		return exitUsage
	}
	return exitFailure
}

func newApp(stdout, stderr *os.File) *cli.App {
	return &cli.App{
		Name:  "flowdiff",
		Usage: "learn clean image distributions from corrupted images (FlowDiff: conditional flow + diffusion prior)",
		Description: "Pipelines are YAML files (see `flowdiff validate --explain`). The default pipeline is flowdiff.yaml.\n" +
			"Exit codes: 0 success, 1 run failure, 2 usage or pipeline error.",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     append(globalFlags(), pluginFlags()...),
		Before: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			registry.SetLogger(log) // warnings for deprecated part IDs in pipelines
			return loadPlugins(c)
		},
		After:        stopPlugins,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return usageError{err} },
		Commands: []*cli.Command{
			runCommand(),
			validateCommand(),
			corruptCommand(),
			opsCommand(),
			sampleCommand(),
			restoreCommand(),
			reportCommand(),
			compareCommand(),
			tableCommand(),
			resultsCommand(),
			curveCommand(),
			priorCheckCommand(),
			restoreTableCommand(),
			metricsCommand(),
			bm3dCommand(),
			estimateNoiseCommand(),
			pluginsCommand(),
			versionCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q; run `flowdiff --help`", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to exit codes
	}
}

// subcommandUsageError is the OnUsageError of every command.
func subcommandUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }
