package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBM3DCommand(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	good := filepath.Join(dir, "good.png")
	f, err := os.Create(good)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 20, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37 % 256)
	}
	png.Encode(f, img)
	f.Close()
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)

	// Flags after the inputs, as people type them.
	code, stdout, stderr := runCLI(t, "bm3d", good, "--sigma", "0.05", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "denoised 1 files") {
		t.Fatalf("good input: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "good.png")); err != nil {
		t.Errorf("no output: %v", err)
	}

	code, _, stderr = runCLI(t, "bm3d", "--sigma", "0.05", "--out", t.TempDir(), bad, good)
	if code != exitFailure || !strings.Contains(stderr, "failed: "+bad) || !strings.Contains(stderr, "1 of 2 files failed") {
		t.Errorf("one bad input: code %d (want %d), stderr %q", code, exitFailure, stderr)
	}

	for _, args := range [][]string{
		{"bm3d", "--sigma", "0.05", "--out", dir, good}, // would overwrite the input
		{"bm3d", "--out", out, good},                    // no sigma
		{"bm3d", "--sigma", "0", "--out", out, good},
		{"bm3d", "--sigma", "0.05", "--out", out, "--profile", "fast", good},
		{"bm3d", "--sigma", "0.05", "--out", out},
		{"bm3d", "--sigma", "0.001", "--gain", "0", "--out", out, good},     // gain must be positive
		{"bm3d", "--sigma", "0.05", "--offset", "0.01", "--out", out, good}, // offset without gain
		{"bm3d", "--sigma", "-1", "--gain", "0.01", "--out", out, good},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: code %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
}
