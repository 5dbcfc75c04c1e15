package part

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Params are the per-sample parameters of an operator for one batch, stored with each
// observation: a mask per image ([N,H,W,C]), a mixture choice per image ([N,1,1,1]), ... Every
// value's leading axis is the sample axis, of the batch's length N. The keys an operator uses
// are documented on its type; a composition prefixes its parts' keys with their position
// ("1.mask").
type Params map[string]*batch.Batch

// Keys returns the keys in sorted order.
func (p Params) Keys() []string { return slices.Sorted(maps.Keys(p)) }

// Slice returns the parameters of samples [from, to), sharing memory with p.
func (p Params) Slice(from, to int) Params {
	if p == nil {
		return nil
	}
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v.Slice(from, to)
	}
	return out
}

// Gather returns the parameters of the samples at idx, in that order (a copy).
func (p Params) Gather(idx []int) Params {
	if p == nil {
		return nil
	}
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v.Gather(idx)
	}
	return out
}

// Prefixed returns the entries of p whose key starts with prefix, with the prefix removed;
// nil when there are none.
func (p Params) Prefixed(prefix string) Params {
	var out Params
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if out == nil {
				out = Params{}
			}
			out[rest] = v
		}
	}
	return out
}

// Get returns p[key] for the operator named op, checking that it exists and that its shape
// is want with n samples (want.N is ignored).
func (p Params) Get(op, key string, n int, want batch.Shape) (*batch.Batch, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, fmt.Errorf("%s: missing per-sample parameter %q (draw it with SampleParams)", op, key)
	}
	want.N = n
	if v.Shape != want {
		return nil, fmt.Errorf("%s: parameter %q has shape %s, want %s", op, key, v.Shape, want)
	}
	return v, nil
}
