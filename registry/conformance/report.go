// Package conformance checks that a forward operator or a noise model keeps the contract of
// core/operators: shapes as announced, determinism given a seed, an exact adjoint (linear
// operators) or a VJP that passes the Taylor test (nonlinear ones), linearity, noise samples
// whose mean and variance match the model's moments, an NLL gradient that matches finite
// differences, and in-graph forms that agree with the plain ones; and that a prior keeps the
// contract of core/prior (one energy per sample, independent of the batch, and a gradient that
// matches finite differences).
//
// The checks are plain functions that return a Report (named checks with pass/fail, the
// measured value and the tolerance) instead of failing a test, so any implementation can run
// them: built-ins in-process now, plugins through their host process later, and the CLI
// (`flowdiff ops check [ID...]`, through CheckID). Require adapts a Report to a *testing.T.
//
// Tolerances are stated with each check; they allow for float32 storage (about 6e-8 relative
// per value) and float64 accumulation, and the statistical checks use 5 standard errors. The
// adjoint and gradient checks use pairs and directions correlated with what they test, so that
// a 0.1% error measures 1e-3, not 1e-3/√size (see gradient.go).
package conformance

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Check is the outcome of one named check.
type Check struct {
	Name string
	// Pass is true when the check ran and held; a skipped check has Pass false and Skip set.
	Pass bool
	Skip string // why the check did not run ("" when it ran)
	// Value is the measured quantity and Tol the bound it is held to: Value <= Tol, or
	// Value >= Tol when AtLeast is set.
	Value   float64
	Tol     float64
	AtLeast bool
	Detail  string // what Value measures, or what went wrong
}

// Failed reports whether the check ran and did not hold.
func (c Check) Failed() bool { return c.Skip == "" && !c.Pass }

func (c Check) String() string {
	switch {
	case c.Skip != "":
		return fmt.Sprintf("SKIP %-20s %s", c.Name, c.Skip)
	case math.IsNaN(c.Value) && c.Tol == 0:
		return fmt.Sprintf("%s %-20s %s", status(c.Pass), c.Name, c.Detail)
	}
	op := "<="
	if c.AtLeast {
		op = ">="
	}
	return fmt.Sprintf("%s %-20s %.3g %s %.3g  %s", status(c.Pass), c.Name, c.Value, op, c.Tol, c.Detail)
}

func status(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// Report is the list of checks run on one subject (a registry ID or a Go type).
type Report struct {
	Subject string
	Checks  []Check
}

// OK reports whether no check failed (skipped checks do not fail a report).
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Failed() {
			return false
		}
	}
	return true
}

// Failures returns the checks that failed.
func (r Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Failed() {
			out = append(out, c)
		}
	}
	return out
}

// Find returns the check with the given name.
func (r Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// String formats the report one check a line, under a heading with the subject.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.Subject, map[bool]string{true: "ok", false: "FAILED"}[r.OK()])
	for _, c := range r.Checks {
		b.WriteString("  ")
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// measure appends a check that passes when value is within tol (value >= tol when atLeast).
// A NaN value fails.
func (r *Report) measure(name string, value, tol float64, atLeast bool, detail string) {
	pass := value <= tol
	if atLeast {
		pass = value >= tol
	}
	r.Checks = append(r.Checks, Check{Name: name, Pass: pass && !math.IsNaN(value), Value: value, Tol: tol,
		AtLeast: atLeast, Detail: detail})
}

// fail appends a failed check that could not be measured, with the reason.
func (r *Report) fail(name string, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Value: math.NaN(), Detail: fmt.Sprintf(format, args...)})
}

// pass appends a passed check without a measured value.
func (r *Report) pass(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Pass: true, Value: math.NaN(), Detail: detail})
}

// skip appends a skipped check.
func (r *Report) skip(name, why string) {
	r.Checks = append(r.Checks, Check{Name: name, Skip: why, Value: math.NaN()})
}

// Require logs every check of r on t and marks t failed for each failed check.
func Require(t testing.TB, r Report) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Failed() {
			t.Errorf("%s: %s", r.Subject, c)
		} else {
			t.Logf("%s: %s", r.Subject, c)
		}
	}
}
