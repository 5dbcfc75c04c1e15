package pipelines

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium returns Debian's chromium, skipping the test when it is absent outside CI (make deps
// installs it; CI must have it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is missing: `make deps` installs Debian's chromium, which this test needs")
	}
	t.Skip("chromium is not installed (make deps installs it)")
	return ""
}

// TestReportScreenshot opens a run's report.html in headless Chromium, as a person would, and
// checks the screenshot shows the image grid: the grid's separating lines (long runs of gray
// 40) must span at least the grid's own size, and the area they
// span must be image (not the white page or a broken-image icon): at most 10% near-white.
func TestReportScreenshot(t *testing.T) {
	bin := chromium(t)
	p, _ := Parse("small.yaml", []byte(smallPipeline))
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	grid, err := os.Open(filepath.Join(dir, "grid.png"))
	if err != nil {
		t.Fatal(err)
	}
	gcfg, err := png.DecodeConfig(grid)
	grid.Close()
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--force-color-profile=srgb", "--force-device-scale-factor=1", "--window-size=1400,3000",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "file://"+filepath.Join(dir, ReportHTML))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	x0, y0, x1, y1 := b.Max.X, b.Max.Y, b.Min.X, b.Min.Y
	const run = 20 // the grid's lines are long runs of gray 40; anti-aliased text never is
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if !near(r, 40) || !near(g, 40) || !near(bl, 40) {
				n = 0
				continue
			}
			if n++; n >= run {
				x0, y0, x1, y1 = min(x0, x-run+1), min(y0, y), max(x1, x+1), max(y1, y+1)
			}
		}
	}
	if x1-x0 < gcfg.Width*9/10 || y1-y0 < gcfg.Height*9/10 {
		t.Fatalf("the grid's lines span %dx%d pixels of the screenshot, want at least the grid's %dx%d: the grid is not displayed",
			max(0, x1-x0), max(0, y1-y0), gcfg.Width, gcfg.Height)
	}
	white := 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 > 235 && g>>8 > 235 && bl>>8 > 235 {
				white++
			}
		}
	}
	if frac := float64(white) / float64((x1-x0)*(y1-y0)); frac > 0.1 {
		t.Errorf("%.0f%% of the grid's area in the screenshot is white page: the images are not shown", 100*frac)
	}
	t.Logf("grid %dx%d shown as %dx%d in a %dx%d screenshot", gcfg.Width, gcfg.Height, x1-x0, y1-y0, b.Dx(), b.Dy())
}

// near reports whether a 16-bit channel is within 3 of the 8-bit value v.
func near(c uint32, v int) bool { d := int(c>>8) - v; return d >= -3 && d <= 3 }
