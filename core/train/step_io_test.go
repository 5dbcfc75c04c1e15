package train

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestStepIONames: naming a flat list and flattening it again is the identity for every layout
// of the flow step (with and without operator parameters and injected terms) and for the
// diffusion step; the fields land where the graph reads them (Z first, LR tenth, the params
// after, the host terms last); a list of the wrong length panics (a programmer error).
func TestStepIONames(t *testing.T) {
	list := func(n int) []int {
		l := make([]int, n)
		for i := range l {
			l[i] = i
		}
		return l
	}
	for _, c := range []struct {
		nParams int
		host    bool
	}{{0, false}, {2, false}, {0, true}, {3, true}} {
		n := 10 + c.nParams
		if c.host {
			n += 3
		}
		in := nameFlowIn(list(n), c.nParams, c.host)
		if got := in.flat(); !reflect.DeepEqual(got, list(n)) {
			t.Errorf("%+v: flat(name(list)) = %v", c, got)
		}
		if in.Z != 0 || in.Y != 1 || in.Weight != 7 || in.LR != 9 || len(in.Params) != c.nParams {
			t.Errorf("%+v: named %+v", c, in)
		}
		if c.nParams > 0 && in.Params[0] != 10 {
			t.Errorf("%+v: first param %d, want 10", c, in.Params[0])
		}
		if c.host && (in.HostGrad != n-3 || in.HostExtra != n-1) {
			t.Errorf("%+v: host terms %d, %d, want %d, %d", c, in.HostGrad, in.HostExtra, n-3, n-1)
		}
		out := nameFlowOut(list(5+btoi(c.host)), c.host)
		if got := out.flat(); !reflect.DeepEqual(got, list(5+btoi(c.host))) || out.GradNorm != 4 {
			t.Errorf("%+v: flow outputs %+v, flat %v", c, out, got)
		}
	}
	if d := nameDiffIn(list(6)); !reflect.DeepEqual(d.flat(), list(6)) || d.X != 0 || d.LR != 5 {
		t.Errorf("diffusion inputs %+v", d)
	}
	if d := nameDiffOut(list(2)); !reflect.DeepEqual(d.flat(), list(2)) || d.GradNorm != 1 {
		t.Errorf("diffusion outputs %+v", d)
	}
	defer func() {
		if recover() == nil {
			t.Error("a list of the wrong length did not panic")
		}
	}()
	nameFlowIn(list(11), 0, false)
}

// TestCheckFiniteNames: a non-finite output is reported by name, the extra prior's included.
func TestCheckFiniteNames(t *testing.T) {
	out := flowOut[float64]{Loss: 1, Host: true, Extra: math.NaN()}
	err := checkFinite(out.slots())
	if !errors.Is(err, errNonFinite) || !strings.Contains(err.Error(), "extra prior=NaN") {
		t.Errorf("err = %v, want errNonFinite naming the extra prior", err)
	}
	d := diffOut[float64]{Loss: 1, GradNorm: 2}
	if err := checkFinite(d.slots()); err != nil {
		t.Errorf("finite outputs: err = %v", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
