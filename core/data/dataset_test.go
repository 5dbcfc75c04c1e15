package data

import (
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// rampDataset returns n 2x2 images whose values all equal the image index i, labelled i%3.
func rampDataset(n int) *Dataset {
	b := batch.New(n, 2, 2, 1)
	d := &Dataset{Images: b, Labels: make([]int, n), Names: make([]string, n), Source: "ramp"}
	for i := range n {
		for j := range 4 {
			b.Data[4*i+j] = float32(i)
		}
		d.Labels[i] = i % 3
		d.Names[i] = "img" + string(rune('a'+i%26))
	}
	return d
}

func TestSplit(t *testing.T) {
	cases := []struct {
		n, nTest int
		seed     int64
	}{{10, 3, 1}, {10, 1, 2}, {10, 9, 3}, {100, 37, 4}}
	for _, c := range cases {
		d := rampDataset(c.n)
		train, test, err := d.Split(c.nTest, c.seed)
		if err != nil {
			t.Fatalf("Split(%d, %d): %v", c.nTest, c.seed, err)
		}
		if train.Len() != c.n-c.nTest || test.Len() != c.nTest {
			t.Fatalf("Split(%d) sizes %d/%d", c.nTest, train.Len(), test.Len())
		}
		// Every index appears exactly once, each part in increasing order, labels follow.
		var seen []int
		for _, part := range []*Dataset{train, test} {
			for i := range part.Len() {
				idx := int(part.Images.At(i, 1, 1, 0))
				if i > 0 && idx <= int(part.Images.At(i-1, 0, 0, 0)) {
					t.Errorf("split part not in original order at %d", i)
				}
				if part.Labels[i] != idx%3 || part.Names[i] != d.Names[idx] {
					t.Errorf("image %d: label/name not carried", idx)
				}
				seen = append(seen, idx)
			}
		}
		slices.Sort(seen)
		for i, v := range seen {
			if v != i {
				t.Fatalf("split lost or duplicated images: %v", seen)
			}
		}
		// Same seed, same split; another seed gives another split (for these sizes).
		_, test2, _ := d.Split(c.nTest, c.seed)
		if !slices.Equal(test.Images.Data, test2.Images.Data) {
			t.Errorf("Split not deterministic for seed %d", c.seed)
		}
		if c.nTest > 1 && c.nTest < c.n-1 {
			_, test3, _ := d.Split(c.nTest, c.seed+100)
			if slices.Equal(test.Images.Data, test3.Images.Data) {
				t.Errorf("seeds %d and %d give the same split", c.seed, c.seed+100)
			}
		}
	}
}

func TestSplitErrors(t *testing.T) {
	d := rampDataset(5)
	for _, nTest := range []int{0, -1, 5, 6} {
		if _, _, err := d.Split(nTest, 1); err == nil {
			t.Errorf("Split(%d) of 5 images: no error", nTest)
		}
	}
	for _, f := range []float64{0, 1, -0.5, 1.5} {
		if _, _, err := d.SplitFraction(f, 1); err == nil {
			t.Errorf("SplitFraction(%v): no error", f)
		}
	}
	train, test, err := d.SplitFraction(0.4, 1)
	if err != nil || train.Len() != 3 || test.Len() != 2 {
		t.Errorf("SplitFraction(0.4) of 5 = %d/%d, %v; want 3/2", train.Len(), test.Len(), err)
	}
}

func TestTake(t *testing.T) {
	d := rampDataset(4)
	got, err := d.Take(3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 3 || got.Images.At(2, 0, 0, 0) != 2 || len(got.Labels) != 3 || len(got.Names) != 3 {
		t.Errorf("Take(3) = %d images, labels %v", got.Len(), got.Labels)
	}
	for _, n := range []int{5, 0, -2} {
		_, err := d.Take(n)
		if err == nil {
			t.Fatalf("Take(%d) of 4: no error", n)
		}
		if n > 4 && (!strings.Contains(err.Error(), "only 4 exist") || !strings.Contains(err.Error(), "ramp")) {
			t.Errorf("Take(%d) error %q should say how many exist and where", n, err)
		}
	}
}

func TestConcat(t *testing.T) {
	a, b := rampDataset(2), rampDataset(3)
	c, err := Concat(a, b)
	if err != nil || c.Len() != 5 || len(c.Labels) != 5 || c.Images.At(4, 0, 0, 0) != 2 {
		t.Fatalf("Concat = %v images, %v", c.Len(), err)
	}
	b.Labels = nil
	if c, _ = Concat(a, b); c.Labels != nil {
		t.Errorf("Concat with an unlabelled part kept labels")
	}
}
