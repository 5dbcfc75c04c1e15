package main

import (
	"strings"
	"testing"
)

// TestValidateProfiles: validate checks a pipeline as written and with each of its profiles;
// --profile checks one; an unknown profile and --profile with --resume are usage errors.
func TestValidateProfiles(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "--offline", "../../pipelines/paper/mnist.yaml")
	if code != exitOK {
		t.Fatalf("validate mnist.yaml: code %d, err %s", code, errOut)
	}
	for _, want := range []string{"mnist.yaml: valid", "mnist.yaml --profile cpu: valid", "mnist.yaml --profile gpu: valid", "mnist.yaml --profile toy: valid"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "validate", "--offline", "--profile", "gpu", "../../pipelines/paper/mnist.yaml")
	if code != exitOK || strings.Count(out, ": valid") != 1 {
		t.Errorf("validate --profile gpu: code %d, want one pipeline checked:\n%s", code, out)
	}
	for _, args := range [][]string{
		{"validate", "--profile", "huge", "../../pipelines/paper/mnist.yaml"},
		{"run", "--resume", t.TempDir(), "--profile", "gpu"},
	} {
		if code, _, errOut := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: code %d, want %d (%s)", args, code, exitUsage, errOut)
		}
	}
}
