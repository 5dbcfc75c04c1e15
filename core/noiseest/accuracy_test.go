package noiseest

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/randx"
)

var update = flag.Bool("update", false, "rewrite the generated tables of docs/noise-estimation.md")

// The accuracy table: known noise added (seeded) to clean test images, estimated back.
// Each image set holds 4 images of 256 x 256 (Set12: its 12 images fitted to 256 x 256).
const (
	accuracySide   = 256
	accuracyImages = 4
	signalSeed     = 7
	gaussianSeed   = 11
	pgSeed         = 13
)

var (
	accuracySigmas = []float64{0.01, 0.02, 0.05, 0.1, 0.2}
	accuracyA      = []float64{0.001, 0.005, 0.02}
	accuracyB      = []float64{1e-5, 1e-4, 1e-3}
	// sigmaTolerance is the default estimator's allowed relative error on every image set.
	sigmaTolerance = 0.05
)

// imageSet is a set of clean test images and how the Poisson-Gaussian fit is judged on it.
type imageSet struct {
	name   string
	planes []Plane
	// rule: "smooth" (edges or none; Set12 too), "textured" (the sinusoids: at low noise few
	// blocks pass the smoothness test and fine texture just below its threshold leaks into
	// hh and reads as read noise, so b gets 15% of S besides 15% of itself), or "one-level"
	// (smooth regions at a single intensity: a and b cannot be told apart).
	rule string
}

func accuracySets(t *testing.T) []imageSet {
	rules := map[string]string{"gradient": "smooth", "discs": "smooth", "blobs": "smooth",
		"sinusoids": "textured", "filaments": "one-level"}
	var sets []imageSet
	for _, s := range signals {
		sets = append(sets, imageSet{s.name, s.make(accuracyImages, accuracySide, signalSeed), rules[s.name]})
	}
	if p := set12(t); p != nil {
		sets = append(sets, imageSet{"set12", p, "smooth"})
	} else {
		t.Log("Set12 not found (shared/data/set12 under $FLOWDIFF_SHARED or ../shared): its rows are left out")
	}
	return sets
}

// addPG returns copies of clean with Poisson-Gaussian noise, y = a·Poisson(x/a) + √b·ε,
// seeded, so that E[y] = x and var(y) = a·x + b.
func addPG(clean []Plane, a, b float64, seed uint64) []Plane {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]Plane, len(clean))
	for k, c := range clean {
		p := Plane{H: c.H, W: c.W, Data: make([]float32, len(c.Data))}
		for i, v := range c.Data {
			p.Data[i] = float32(a*float64(randx.Poisson(rng, max(float64(v), 0)/a)) + math.Sqrt(b)*rng.NormFloat64())
		}
		out[k] = p
	}
	return out
}

func meanOf(ps []Plane) float64 {
	s, n := 0.0, 0
	for _, p := range ps {
		for _, v := range p.Data {
			s += float64(v)
			n++
		}
	}
	return s / float64(n)
}

// pgTolerance returns the allowed errors of the shot-noise variance at the mean intensity,
// S = a·x̄, and of b, for a rule: each component within 15% of itself plus a share of the
// other, since a component small next to the other cannot be resolved more finely.
func pgTolerance(rule string, s, b float64) (tolS, tolB float64) {
	if rule == "textured" {
		return 0.15*s + 0.05*b, 0.15*b + 0.15*s
	}
	return 0.15*s + 0.05*b, 0.15*b + 0.05*s
}

// TestAccuracyTable adds noise of known level to the test images, estimates it back and
// checks every case against its stated tolerance (docs/noise-estimation.md states them).
// With -update it rewrites the tables of docs/noise-estimation.md; with -v it prints them.
func TestAccuracyTable(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy table: about a minute of estimation on 2 cores; run without -short")
	}
	sets := accuracySets(t)
	var md bytes.Buffer
	gaussianTable(t, &md, sets)
	pgTable(t, &md, sets)
	fmdTable(t, &md)
	t.Log("\n" + md.String())
	if *update {
		writeGenerated(t, md.String())
	}
}

func gaussianTable(t *testing.T, md *bytes.Buffer, sets []imageSet) {
	fmt.Fprintf(md, "#### Gaussian σ\n\nRelative error of σ̂ (default: σ̂ ± bootstrap standard error). Tolerance for the default, %s: %.0f%% on every row.\n\n", DefaultMethod, 100*sigmaTolerance)
	fmt.Fprintf(md, "| images | σ | %s (default) | error | %s | %s | %s |\n|---|---|---|---|---|---|---|\n", DefaultMethod, MethodWaveletMAD, MethodImmerkaerSobel, MethodImmerkaer)
	for _, s := range sets {
		for _, sigma := range accuracySigmas {
			noisy := addGaussian(s.planes, sigma, gaussianSeed)
			fmt.Fprintf(md, "| %s | %g |", s.name, sigma)
			for _, m := range Methods {
				e, err := EstimateGaussian(noisy, GaussianOptions{Method: m})
				if err != nil {
					t.Fatalf("%s sigma %g %s: %v", s.name, sigma, m, err)
				}
				rel := e.Sigma/sigma - 1
				if m == DefaultMethod {
					fmt.Fprintf(md, " %.5f ± %.5f | %+.1f%% |", e.Sigma, e.StdErr, 100*rel)
					if math.Abs(rel) > sigmaTolerance {
						t.Errorf("%s, sigma %g: %s estimated %.5f ± %.5f, error %+.1f%% exceeds %.0f%%",
							s.name, sigma, m, e.Sigma, e.StdErr, 100*rel, 100*sigmaTolerance)
					}
				} else {
					fmt.Fprintf(md, " %+.1f%% |", 100*rel)
				}
			}
			md.WriteString("\n")
		}
	}
	md.WriteString("\n")
}

func pgTable(t *testing.T, md *bytes.Buffer, sets []imageSet) {
	md.WriteString("#### Poisson-Gaussian (a, b)\n\n" +
		"â and b̂ ± bootstrap standard errors; x̄ is the clean images' mean intensity and S = a·x̄ the shot-noise variance there. " +
		"Checked: |â − a|·x̄ and |b̂ − b| within the row's tolerances (tol S, tol b, see Rules); one-level rows instead check the variance predicted at the fitted blocks' mean intensity m*, within 15%.\n\n" +
		"| images | a | b | â | error | b̂ | tol S | tol b | blocks used | fitted means |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sets {
		xbar := meanOf(s.planes)
		for _, a := range accuracyA {
			for _, b := range accuracyB {
				e, err := EstimatePoissonGaussian(addPG(s.planes, a, b, pgSeed), PGOptions{})
				if err != nil {
					t.Fatalf("%s a %g b %g: %v", s.name, a, b, err)
				}
				name := fmt.Sprintf("%s, a %g, b %g", s.name, a, b)
				tolS, tolB := pgTolerance(s.rule, a*xbar, b)
				tols, tolb := fmt.Sprintf("%.2g", tolS), fmt.Sprintf("%.2g", tolB)
				switch s.rule {
				case "one-level":
					tols, tolb = "—", "—"
					m := (e.MeanLow + e.MeanHigh) / 2
					want, got := a*m+b, e.A*m+e.B
					if math.Abs(got/want-1) > 0.15 {
						t.Errorf("%s: predicted variance at m* = %.3f is %.3g, want %.3g within 15%%", name, m, got, want)
					}
					if e.Note == "" {
						t.Errorf("%s: means %.3f..%.3f span one level but the estimate has no note", name, e.MeanLow, e.MeanHigh)
					}
				default:
					if d := math.Abs(e.A-a) * xbar; d > tolS {
						t.Errorf("%s: â = %.5f ± %.5f: |â − a|·x̄ = %.3g exceeds %.3g", name, e.A, e.StdErrA, d, tolS)
					}
					if d := math.Abs(e.B - b); d > tolB {
						t.Errorf("%s: b̂ = %.3g ± %.2g: |b̂ − b| = %.3g exceeds %.3g", name, e.B, e.StdErrB, d, tolB)
					}
				}
				fmt.Fprintf(md, "| %s | %g | %g | %.5f ± %.5f | %+.1f%% | %.2e ± %.1e | %s | %s | %d/%d | %.2f–%.2f |\n",
					s.name, a, b, e.A, e.StdErrA, 100*(e.A/a-1), e.B, e.StdErrB, tols, tolb, e.Blocks, e.Blocks+e.Screened, e.MeanLow, e.MeanHigh)
			}
		}
	}
	md.WriteString("\n")
}

// Markers around the generated part of docs/noise-estimation.md.
const (
	generatedBegin = "<!-- begin: generated by `go test ./core/noiseest -run TestAccuracyTable -update` -->"
	generatedEnd   = "<!-- end: generated -->"
)

func writeGenerated(t *testing.T, md string) {
	path := filepath.Join(repoRoot(t), "docs", "noise-estimation.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	s := string(doc)
	i, j := strings.Index(s, generatedBegin), strings.Index(s, generatedEnd)
	if i < 0 || j < i {
		t.Fatalf("update: %s lacks the markers %q and %q", path, generatedBegin, generatedEnd)
	}
	s = s[:i+len(generatedBegin)] + "\n\n" + md + s[j:]
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatalf("update: %v", err)
	}
	t.Logf("wrote %s", path)
}

// repoRoot returns the folder holding go.mod above the working directory.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("no go.mod above the working directory")
	return ""
}
