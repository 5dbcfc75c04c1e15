package schema

import (
	"strings"
	"testing"
)

type noise struct {
	Sigma float64 `yaml:"sigma" default:"0.1" check:">0" doc:"std dev"`
}

type blur struct {
	Size  int     `yaml:"size" default:"33" check:"odd,>=1,<=255"`
	Sigma float64 `yaml:"sigma" default:"1.5" check:">0"`
}

func (b *blur) Check() []Problem {
	if float64(b.Size) < 2*b.Sigma {
		return []Problem{{"size", "must be at least 2*sigma"}}
	}
	return nil
}

type doc struct {
	Version int       `yaml:"version" check:"required,oneof=1"`
	Name    string    `yaml:"name" default:"run"`
	Mode    string    `yaml:"mode" default:"fast" check:"oneof=fast|slow"`
	Noise   noise     `yaml:"noise"`
	Blur    *blur     `yaml:"blur"`
	Levels  []blur    `yaml:"levels"`
	Weights []float64 `yaml:"weights" check:">=0"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // substrings of each error, in line order; nil = success
	}{
		{"defaults", "version: 1\n", nil},
		{"all fields", "version: 1\nname: x\nmode: slow\nnoise: {sigma: 0.2}\nblur: {size: 5, sigma: 1}\nweights: [1, 2]\n", nil},
		{"three located errors", "version: 1\nnoise:\n  sigma: -1\nblur:\n  size: 4\nmdoe: fast\n",
			[]string{`noise.sigma: must be > 0, got -1 (line 3)`, `blur.size: must be odd, got 4 (line 5)`,
				`mdoe: unknown field "mdoe"; did you mean "mode"? (line 6)`}},
		{"missing version", "name: x\n", []string{"version: is required"}},
		{"list paths", "version: 1\nlevels:\n  - size: 3\n  - size: 8\n", []string{"levels[1].size: must be odd, got 8 (line 4)"}},
		{"type error", "version: 1\nnoise: {sigma: abc}\n", []string{"noise.sigma: must be a number, got \"abc\" (line 2)"}},
		{"checker", "version: 1\nblur: {size: 3, sigma: 2}\n", []string{"blur.size: must be at least 2*sigma (line 2)"}},
		{"oneof hint", "version: 1\nmode: slwo\n", []string{`mode: must be one of fast, slow, got "slwo"; did you mean "slow"? (line 2)`}},
		{"list elements", "version: 1\nweights: [1, -2]\n", []string{"weights: element 1 must be >= 0, got -2 (line 2)"}},
		{"syntax", "version: 1\nnoise: [\n", []string{"invalid YAML"}},
		{"duplicate key", "version: 1\nname: a\nname: b\n", []string{"name: key given twice (line 3)"}},
		{"not a mapping", "version: 1\nnoise: 3\n", []string{"noise: must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			errs := Unmarshal([]byte(c.yaml), &d)
			errs.Sort()
			if len(errs) != len(c.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(c.want))
			}
			for i, w := range c.want {
				for _, part := range strings.Split(w, "\x00") {
					if !strings.Contains(errs[i].Error(), part) {
						t.Errorf("error %d = %q, want it to contain %q", i, errs[i], part)
					}
				}
			}
		})
	}
}

func TestDefaultsFilled(t *testing.T) {
	var d doc
	if errs := Unmarshal([]byte("version: 1\nblur: {}\n"), &d); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d.Name != "run" || d.Mode != "fast" || d.Noise.Sigma != 0.1 {
		t.Errorf("defaults not applied: %+v", d)
	}
	if d.Blur == nil || d.Blur.Size != 33 || d.Blur.Sigma != 1.5 {
		t.Errorf("section defaults not applied: %+v", d.Blur)
	}
	var d2 doc
	Unmarshal([]byte("version: 1\n"), &d2)
	if d2.Blur != nil {
		t.Errorf("absent optional section should stay nil, got %+v", d2.Blur)
	}
}

func TestDescribe(t *testing.T) {
	docs := Describe(&doc{})
	var paths []string
	for _, d := range docs {
		paths = append(paths, d.Path)
	}
	got := strings.Join(paths, " ")
	want := "version name mode noise noise.sigma blur blur.size blur.sigma levels[] levels[].size levels[].sigma weights"
	if got != want {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if md := Markdown(docs); !strings.Contains(md, "| `noise.sigma` | a number | `0.1` | `>0` | std dev |") {
		t.Errorf("markdown row missing:\n%s", md)
	}
}

func TestClosest(t *testing.T) {
	got := Closest("blur.gausian", []string{"blur.gaussian", "blur.motion", "noise.gaussian"})
	if len(got) == 0 || got[0] != "blur.gaussian" {
		t.Errorf("Closest = %v", got)
	}
	if got := Closest("zzzzzz", []string{"blur.gaussian"}); len(got) != 0 {
		t.Errorf("Closest of unrelated = %v", got)
	}
}
