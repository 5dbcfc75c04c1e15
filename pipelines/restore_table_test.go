package pipelines

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/residual"
)

// writeFlat writes a 16x16 16-bit TIFF of constant grey level v.
func writeFlat(t *testing.T, file string, v int) {
	t.Helper()
	img := &formats.Image{W: 16, H: 16, C: 1, N: 1, SourceType: dtype.Uint16, Data: make([]float32, 256)}
	for i := range img.Data {
		img.Data[i] = float32(v)
	}
	os.MkdirAll(filepath.Dir(file), 0o755)
	if _, err := formats.Write(file, img); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreTable tabulates a folder of observations and a restore folder (sidecars written
// here) against references whose PSNRs are known: constant images d grey levels away from the
// references have PSNR -20 log10(d / 65535): 6554 -> 20.00 dB, 3277 -> 26.02, 655 -> 40.00,
// 218 -> 49.56; the mean time per image, the run and settings and the
// residual diagnostics come from the sidecars; --doc replaces only its own section.
func TestRestoreTable(t *testing.T) {
	tmp := t.TempDir()
	ref, noisy, restored := filepath.Join(tmp, "ref"), filepath.Join(tmp, "noisy"), filepath.Join(tmp, "restored")
	for _, f := range []struct {
		name          string
		ref, obs, res int
	}{{"a", 30000, 30000 + 6554, 30000 + 655}, {"b", 20000, 20000 - 3277, 20000 + 218}} {
		writeFlat(t, filepath.Join(ref, f.name+".tif"), f.ref)
		writeFlat(t, filepath.Join(noisy, f.name+".tif"), f.obs)
		writeFlat(t, filepath.Join(restored, f.name+".tif"), f.res)
		car := Sidecar{Input: "in/" + f.name + ".tif", Rel: f.name + ".tif", InputSHA256: "00", Run: filepath.Join(tmp, "gone"), Pipeline: "pipe",
			Settings: RestoreSettings{Method: "flow", Draws: 4, Tiling: "whole", CheckpointStep: 7}, Scaling: formats.Scaling{Mode: "range", Scale: 65535, SourceType: dtype.Uint16}, Width: 16, Height: 16, Pages: 1,
			Residual: &residual.Stats{Mean: 0.01, Variance: 0.9, Lag1: 0.2, Flatness: 0.5}, Seconds: map[string]float64{"a": 3, "b": 5}[f.name],
			Finished: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Machine: &Machine{CPU: "TestCPU", CPUs: 2, Backend: "SimpleGo (go)"}}
		if err := atomicfile.WriteJSON(filepath.Join(restored, f.name+".tif.json"), car); err != nil {
			t.Fatal(err)
		}
	}
	tab := RestoreTable{Ref: ref, Folders: []string{"noisy capture=" + noisy, restored}, Command: "flowdiff restore-table ..."}
	var out bytes.Buffer
	if err := tab.Write(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"| | PSNR (dB) per image: a, b | mean PSNR (dB) | mean SSIM | seconds per image |",
		"| noisy capture | 20.00, 26.02 | 23.01 | ",
		"| pipe, step 7, flow x4, whole | 40.00, 49.56 | 44.78 | ",
		" | 4.0 |\n",
		"`gone` (folder not readable here), checkpoint step 7 | flow, 4 draws, tiling whole | TestCPU, 2 CPUs, SimpleGo (go) | 2026-12-02 10:00 UTC |",
		"| pipe, step 7, flow x4, whole | b.tif (16 x 16) | 1 | 0.010 | 0.900 | 0.200 | 0.50 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q", want)
		}
	}

	os.Remove(filepath.Join(noisy, "b.tif"))
	if err := tab.Write(context.Background(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "b") {
		t.Errorf("a folder missing an image: %v", err)
	}
	writeFlat(t, filepath.Join(noisy, "b.tif"), 20000-3277)

	doc := filepath.Join(tmp, "doc.md")
	begin, end := RestoreTableMarkers("fmd")
	other, otherEnd := RestoreTableMarkers("cryoem")
	text := "intro\n" + begin + "\nold table\n" + end + "\nmiddle\n" + other + "\nkept\n" + otherEnd + "\n"
	os.WriteFile(doc, []byte(text), 0o644)
	if err := tab.WriteDoc(context.Background(), doc, "fmd"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(doc)
	if s := string(raw); strings.Contains(s, "old table") || !strings.Contains(s, "kept") || !strings.HasPrefix(s, "intro\n"+begin) || !strings.Contains(s, "| noisy capture | 20.00") {
		t.Errorf("doc after WriteDoc:\n%s", raw)
	}
	if err := tab.WriteDoc(context.Background(), doc, "tubulin"); err == nil || !strings.Contains(err.Error(), "no generated section") {
		t.Errorf("a doc without the section: %v", err)
	}
}
