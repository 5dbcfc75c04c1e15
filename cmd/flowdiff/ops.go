package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
	"github.com/urfave/cli/v2"
)

func opsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ops",
		Usage: "list, describe and check the registered operators, noise models, priors and metrics",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "print every registered ID, sorted, with its kind, linearity and origin",
				Flags: []cli.Flag{&cli.StringFlag{Name: "kind", Usage: "only this kind: operator, noise, prior or metric"}},
				Action: func(c *cli.Context) error {
					return opsList(c.App.Writer, registry.Kind(c.String("kind")))
				},
				OnUsageError: subcommandUsageError,
			},
			{
				Name:         "describe",
				Usage:        "print an ID's parameters with units, ranges and defaults",
				ArgsUsage:    "ID",
				OnUsageError: subcommandUsageError,
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("ops describe needs one ID, e.g. `flowdiff ops describe blur.gaussian`")
					}
					e, err := registry.Lookup(c.Args().First())
					if err != nil {
						return usageError{err}
					}
					opsDescribe(c.App.Writer, e)
					return nil
				},
			},
			{
				Name:      "check",
				Usage:     "run the conformance suite (adjoint, linearity, Taylor, shapes, noise statistics, prior gradients) on operators, noise models and priors",
				ArgsUsage: "[ID...]",
				Description: "Without IDs, checks every registered operator, noise model and prior. Exits 1 if any check fails.\n" +
					"Parts whose defaults are incomplete are checked with their documented example parameters;\n" +
					"a part that needs a file (blur.kernel) is skipped with the reason.",
				OnUsageError: subcommandUsageError,
				Action: func(c *cli.Context) error {
					ids := c.Args().Slice()
					if len(ids) == 0 {
						ids = append(registry.Default.IDs(registry.KindOperator), registry.Default.IDs(registry.KindNoise)...)
						ids = append(ids, registry.Default.IDs(registry.KindPrior)...)
					}
					failed := 0
					for _, id := range ids {
						rep, err := conformance.CheckID(c.Context, id, registry.Default)
						if err != nil {
							return usageError{err}
						}
						fmt.Fprintf(c.App.Writer, "%s\n", rep.Subject)
						for _, ch := range rep.Checks {
							fmt.Fprintf(c.App.Writer, "  %s\n", ch)
						}
						if !rep.OK() {
							failed++
						}
					}
					if failed > 0 {
						return fmt.Errorf("ops check: %d of %d parts failed conformance", failed, len(ids))
					}
					fmt.Fprintf(c.App.Writer, "all %d parts passed\n", len(ids))
					return nil
				},
			},
		},
	}
}

func opsList(w io.Writer, kind registry.Kind) error {
	entries := registry.List(kind)
	if len(entries) == 0 {
		return usagef("no parts of kind %q: kinds are operator, noise, prior and metric", kind)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tLINEAR\tORIGIN\tSUMMARY")
	for _, e := range entries {
		linear := "-"
		if e.Kind == registry.KindOperator {
			linear = map[bool]string{true: "yes", false: "no"}[e.Linear]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Kind, linear, e.Origin, e.Summary)
	}
	return tw.Flush()
}

func opsDescribe(w io.Writer, e registry.Entry) {
	fmt.Fprintf(w, "%s (%s, %s)\n  %s\n", e.ID, e.Kind, e.Origin, e.Summary)
	if e.Config == nil {
		fmt.Fprintln(w, "\nNo parameters.")
		return
	}
	docs := schema.Describe(e.Config())
	if len(docs) == 0 {
		fmt.Fprintln(w, "\nNo parameters.")
		return
	}
	fmt.Fprintln(w, "\nParameters:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tDEFAULT\tRULES\tMEANING")
	for _, d := range docs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Path, d.Type, orDash(d.Default), orDash(d.Check), d.Doc)
	}
	tw.Flush()
	if e.Example != "" {
		fmt.Fprintf(w, "\nExample:\n  - op: %s\n%s", e.ID, indent(e.Example, "    "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
