package host

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// Check runs the registry's conformance suite on every part of p through its process (each
// part built with its example parameters, or its defaults), after starting p. A plugin that
// does not start gets one failed "start" report.
func (h *Host) Check(ctx context.Context, p *Plugin) []conformance.Report {
	if _, err := p.Start(ctx); err != nil {
		r := conformance.Report{Subject: p.Name()}
		r.Checks = append(r.Checks, conformance.Check{Name: "start", Value: math.NaN(), Detail: err.Error()})
		return []conformance.Report{r}
	}
	var out []conformance.Report
	for _, part := range p.Manifest.Provides {
		r, err := conformance.CheckID(ctx, part.ID, h.Reg)
		if err != nil {
			r = conformance.Report{Subject: part.ID}
			r.Checks = append(r.Checks, conformance.Check{Name: "lookup", Value: math.NaN(), Detail: err.Error()})
		}
		out = append(out, r)
	}
	return out
}

// List writes a table of the loaded plugins (name, version, folder, checksum state, parts)
// and of the folders that failed to load.
func (h *Host) List(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tVERSION\tCHECKSUM\tPARTS\tFOLDER")
	for _, p := range h.Plugins() {
		sum := "ok"
		if err := p.Manifest.VerifyFiles(p.Dir); err != nil {
			sum = "MISMATCH"
			if _, ok := err.(*ChecksumError); !ok {
				sum = "MISSING"
			}
		}
		var ids []string
		for _, part := range p.Manifest.Provides {
			ids = append(ids, part.ID+" ("+part.Kind+")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name(), p.Manifest.Version, sum, strings.Join(ids, ", "), p.Dir)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, b := range h.Broken() {
		fmt.Fprintf(w, "\nnot loaded: %s\n  %v\n", b.Dir, b.Err)
	}
	return nil
}

// Describe starts the plugin that provides id and writes what it says about the part, with
// its parameters, next to what the manifest recorded.
func (h *Host) Describe(ctx context.Context, w io.Writer, id string) error {
	p, part, ok := h.PluginOf(id)
	if !ok {
		return fmt.Errorf("no loaded plugin provides %q (`flowdiff plugins list` shows the loaded plugins)", id)
	}
	d, err := p.Describe(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (%s) from plugin %s %s, protocol %d\n  folder: %s\n  command: %s %s\n",
		id, part.Kind, d.Name, d.Version, p.Manifest.Protocol, p.Dir, p.Manifest.Command, strings.Join(p.Manifest.Args, " "))
	for _, live := range partsFromDescription(d) {
		if live.ID != id {
			continue
		}
		fmt.Fprintf(w, "  %s\n", live.Summary)
		if live.Kind == "operator" {
			fmt.Fprintf(w, "  linear: %v\n", live.Linear)
		}
		if len(live.Params) == 0 {
			fmt.Fprintln(w, "\nNo parameters.")
		} else {
			fmt.Fprintln(w, "\nParameters:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tTYPE\tDEFAULT\tRULES\tMEANING")
			for _, q := range live.Params {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", q.Name, q.Type, dash(q.Default), dash(q.Check), q.Doc)
			}
			tw.Flush()
		}
		if live.Example != "" {
			fmt.Fprintf(w, "\nExample:\n  - op: %s\n", id)
			for _, l := range strings.Split(strings.TrimRight(live.Example, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
