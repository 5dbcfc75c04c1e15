package metrics

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints r for people: one row per metric (mean, standard error, pairs, direction)
// and, below the table, one line per unavailable metric with its reason, so that long reasons
// do not widen the table's columns.
func (r Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "METRIC\tMEAN\tSTDERR\tN\tBETTER\n")
	var notes []string
	for _, m := range r.Metrics {
		better := map[bool]string{true: "higher", false: "lower"}[m.HigherIsBetter]
		switch {
		case m.Summary == nil:
			fmt.Fprintf(tw, "%s\tunavailable\t–\t–\t%s\n", m.ID, better)
			notes = append(notes, fmt.Sprintf("%s: unavailable: %s", m.ID, m.Unavailable))
		case m.Set: // one value for the two sets: no standard error
			fmt.Fprintf(tw, "%s\t%.4f\t(set)\t%d\t%s\n", m.ID, m.Summary.Mean, m.Summary.N, better)
		default:
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%d\t%s\n", m.ID, m.Summary.Mean, m.Summary.StdErr, m.Summary.N, better)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}
