package train

import "fmt"

// The compiled training steps take and return flat lists (GoMLX's Exec binds its arguments by
// position). The types below name those lists: the host fills a struct of arguments (T = any:
// tensors and float32 scalars) and flattens it for Exec; the graph function names its flat
// list of nodes back (T = *graph.Node) with the same slots, so the order is written once, in
// each type's slots method. Outputs go the same way, from nodes to float64 values.

// flowIn is the flow step's inputs. Shapes: images [N,H,W,C] (Y: the observations' shape),
// per-sample values [N], scalars [].
type flowIn[T any] struct {
	Z          T // latent noise z of x = b + G(z; b)
	Y          T // observations y
	Base       T // b(y): the flow's offset and condition
	Eps        T // diffusion noise eps of the prior term
	TIdx       T // diffusion step index per sample (float32)
	SqrtAbar   T // sqrt(abar_t) per sample
	Sqrt1mAbar T // sqrt(1 - abar_t) per sample
	Weight     T // the prior term's weight per sample (see diffusion.PriorTerm)
	Lambda     T // weight λ of the prior term in the loss
	LR         T // learning rate of this step

	// Params are the operator's per-sample parameters in Trainer.keys order; present only for
	// the in-graph data term (an injected one applies the operator on the host).
	Params []T

	// Host says whether the injected terms follow (Trainer.needsHost): the host's gradient
	// in x [N,H,W,C], its data term (when injected, else 0) and the extra priors' weighted
	// energy, both per pixel and batch-averaged scalars (see hostTerms).
	Host                         bool
	HostGrad, HostNLL, HostExtra T
}

// slots lists f's fields in the step's argument order.
func (f *flowIn[T]) slots() []*T {
	s := []*T{&f.Z, &f.Y, &f.Base, &f.Eps, &f.TIdx, &f.SqrtAbar, &f.Sqrt1mAbar, &f.Weight, &f.Lambda, &f.LR}
	for i := range f.Params {
		s = append(s, &f.Params[i])
	}
	if f.Host {
		s = append(s, &f.HostGrad, &f.HostNLL, &f.HostExtra)
	}
	return s
}

// flat returns f as the step's argument list.
func (f flowIn[T]) flat() []T { return values(f.slots()) }

// nameFlowIn names the flow step's argument list in: nParams operator parameters, then the
// injected terms when host.
func nameFlowIn[T any](in []T, nParams int, host bool) flowIn[T] {
	f := flowIn[T]{Params: make([]T, nParams), Host: host}
	fill(f.slots(), in, "flow step inputs")
	return f
}

// diffIn is the diffusion step's inputs: X the flow's samples ([0,1] intensities, the flow
// step's first output), the other fields as in flowIn.
type diffIn[T any] struct {
	X, Eps                     T
	TIdx, SqrtAbar, Sqrt1mAbar T
	LR                         T
}

func (d *diffIn[T]) slots() []*T {
	return []*T{&d.X, &d.Eps, &d.TIdx, &d.SqrtAbar, &d.Sqrt1mAbar, &d.LR}
}

func (d diffIn[T]) flat() []T { return values(d.slots()) }

func nameDiffIn[T any](in []T) diffIn[T] {
	var d diffIn[T]
	fill(d.slots(), in, "diffusion step inputs")
	return d
}

// flowOut is the flow step's scalar outputs (the compiled step returns the step's samples x
// first, then these): the loss, its entropy, data (NLL) and prior terms (per
// pixel, batch means), the flows' gradient norm before clipping, and, when Host, the extra
// priors' weighted energy (else Extra is the zero value).
type flowOut[T any] struct {
	Loss, Entropy, NLL, Prior, GradNorm T
	Host                                bool
	Extra                               T
}

// slots lists o's fields in output order, with their names for error messages.
func (o *flowOut[T]) slots() ([]*T, []string) {
	s := []*T{&o.Loss, &o.Entropy, &o.NLL, &o.Prior, &o.GradNorm}
	names := []string{"flow loss", "entropy", "nll", "prior", "flow grad norm"}
	if o.Host {
		s, names = append(s, &o.Extra), append(names, "extra prior")
	}
	return s, names
}

func (o flowOut[T]) flat() []T {
	s, _ := o.slots()
	return values(s)
}

func nameFlowOut[T any](out []T, host bool) flowOut[T] {
	o := flowOut[T]{Host: host}
	s, _ := o.slots()
	fill(s, out, "flow step outputs")
	return o
}

// diffOut is the diffusion step's outputs: the denoising loss and the U-Net's gradient norm
// before clipping.
type diffOut[T any] struct{ Loss, GradNorm T }

func (o *diffOut[T]) slots() ([]*T, []string) {
	return []*T{&o.Loss, &o.GradNorm}, []string{"diffusion loss", "diffusion grad norm"}
}

func (o diffOut[T]) flat() []T {
	s, _ := o.slots()
	return values(s)
}

func nameDiffOut[T any](out []T) diffOut[T] {
	var o diffOut[T]
	s, _ := o.slots()
	fill(s, out, "diffusion step outputs")
	return o
}

func values[T any](slots []*T) []T {
	out := make([]T, len(slots))
	for i, p := range slots {
		out[i] = *p
	}
	return out
}

// fill sets each slot from the list of the same length; a length mismatch is a programmer
// error (the step built with other settings than it is run with).
func fill[T any](slots []*T, list []T, what string) {
	if len(list) != len(slots) {
		panic(fmt.Sprintf("train: %s: got %d values, want %d", what, len(list), len(slots)))
	}
	for i, p := range slots {
		*p = list[i]
	}
}
