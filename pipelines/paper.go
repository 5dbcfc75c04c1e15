package pipelines

// The published figures the comparison table (table.go) shows next to the measured ones, for
// the settings where the paper reports one. Only figures stated in the project's sources are
// listed, each with where it comes from; the table matches them on the data source and the
// corruption (corruptionKey) and leaves the column empty elsewhere.

// paperFigure is one published figure.
type paperFigure struct {
	Source     string // data.source of the runs it applies to
	Corruption string // corruptionKey of their corruption list
	Table      string // "amortized" (the paper's Table 1) or "dps" (its Table 2)
	Method     string // pipeline method; "" for the observations themselves
	Metric     string // metric name as in metrics.json ("psnr")
	Value      float64
	Cite       string
}

// paperFigures are FlowDiff's published figures ("Integrating Amortized Inference with
// Diffusion Models for Learning Clean Distribution from Corrupted Images").
var paperFigures = []paperFigure{
	{Source: "mnist", Corruption: "noise.gaussian sigma=0.2", Table: "amortized", Method: DefaultMethod, Metric: "psnr", Value: 20.73,
		Cite: "FlowDiff paper, Table 1 (MNIST denoising, sigma 0.2), as quoted in issue #14 and docs/training.md"},
	{Source: "mnist", Corruption: "noise.gaussian sigma=0.2", Table: "amortized", Method: "", Metric: "psnr", Value: 13.57,
		Cite: "FlowDiff paper, Table 1: the noisy observations, as quoted in docs/training.md"},
}

// lookupPaper returns the published figure for the given setting, if any.
func lookupPaper(source, corruption, table, method, metric string) (paperFigure, bool) {
	for _, f := range paperFigures {
		if f.Source == source && f.Corruption == corruption && f.Table == table && f.Method == method && f.Metric == metric {
			return f, true
		}
	}
	return paperFigure{}, false
}
