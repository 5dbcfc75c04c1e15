package metrics

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// The MNIST feature classifier behind metric.fid_mnist_classifier and metric.kid_mnist_classifier.
//
// A small multilayer perceptron the project trains itself (internal/mkclassifier; see
// docs/metrics.md) on MNIST's clean test split with its labels: images 2000..9999 for training,
// 0..1999 held out (the pipelines evaluate on the first test images, which it never sees).
//
//	x  = 2x2 average pool of the 28x28 image             [196]
//	h1 = relu(W1 x + b1)                                  [64]
//	f  = relu(W2 h1 + b2)                                 [32]   <- the features FID/KID use
//	p  = softmax(W3 f + b3)                               [10]
//
// It is far weaker than the Inception network of the original FID (Heusel et al. 2017), so its
// distances are comparable only with each other, never with published FIDs: hence the names.
const (
	clsSide   = 28
	clsPool   = 2
	clsIn     = (clsSide / clsPool) * (clsSide / clsPool)
	clsHidden = 64
	// ClassifierFeatures is the dimension of the features FID and KID compare.
	ClassifierFeatures = 32
	clsClasses         = 10
	clsMagic           = "FDMLP1\n"
)

// Classifier is the MLP above; weights row-major [out][in].
type Classifier struct {
	W1, B1, W2, B2, W3, B3 []float32
}

// classifierFile is the trained classifier, built by `go generate ./core/metrics`.
//
//go:generate go run ./internal/mkclassifier -out assets/mnist_mlp.bin
//go:embed assets/mnist_mlp.bin
var classifierFile []byte

var (
	clsOnce   sync.Once
	clsLoaded *Classifier
	clsErr    error
)

// MNISTClassifier returns the embedded trained classifier.
func MNISTClassifier() (*Classifier, error) {
	clsOnce.Do(func() { clsLoaded, clsErr = ReadClassifier(bytes.NewReader(classifierFile)) })
	return clsLoaded, clsErr
}

func (c *Classifier) parts() []*[]float32 {
	return []*[]float32{&c.W1, &c.B1, &c.W2, &c.B2, &c.W3, &c.B3}
}

// layerSizes are the lengths of the parts, in order.
var layerSizes = []int{clsHidden * clsIn, clsHidden, ClassifierFeatures * clsHidden, ClassifierFeatures,
	clsClasses * ClassifierFeatures, clsClasses}

// newClassifier returns a classifier with zero weights of the right sizes.
func newClassifier() *Classifier {
	c := &Classifier{}
	for i, p := range c.parts() {
		*p = make([]float32, layerSizes[i])
	}
	return c
}

// WriteTo writes the classifier: the magic line, the layer sizes as uint32, then every weight
// as little-endian float32, in the order W1 B1 W2 B2 W3 B3.
func (c *Classifier) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	b.WriteString(clsMagic)
	for _, n := range layerSizes {
		binary.Write(&b, binary.LittleEndian, uint32(n))
	}
	for _, p := range c.parts() {
		binary.Write(&b, binary.LittleEndian, *p)
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// ReadClassifier reads what WriteTo wrote.
func ReadClassifier(r io.Reader) (*Classifier, error) {
	magic := make([]byte, len(clsMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != clsMagic {
		return nil, errors.New("mnist classifier: not a classifier file (bad magic); rebuild it with `go generate ./core/metrics`")
	}
	c := newClassifier()
	for i, want := range layerSizes {
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil || int(n) != want {
			return nil, fmt.Errorf("mnist classifier: layer %d has %d weights, this build expects %d: rebuild it with `go generate ./core/metrics`", i, n, want)
		}
	}
	for _, p := range c.parts() {
		if err := binary.Read(r, binary.LittleEndian, *p); err != nil {
			return nil, fmt.Errorf("mnist classifier: truncated file: %w", err)
		}
	}
	return c, nil
}

// applicable reports whether b holds MNIST-like images the classifier can read.
func classifierApplies(b *batch.Batch) bool { return b.H == clsSide && b.W == clsSide && b.C == 1 }

// pool returns the 2x2 average pool of image i of b, [196].
func pool(b *batch.Batch, i int, out []float32) {
	img := b.Image(i).Data
	const s = clsSide / clsPool
	for y := range s {
		for x := range s {
			o := 2*y*clsSide + 2*x
			out[y*s+x] = 0.25 * (img[o] + img[o+1] + img[o+clsSide] + img[o+clsSide+1])
		}
	}
}

// dense computes out = act(W in + b) for W [len(out)][len(in)].
func dense(w, b, in, out []float32, relu bool) {
	for o := range out {
		row := w[o*len(in) : (o+1)*len(in)]
		s := b[o]
		for i, v := range in {
			s += row[i] * v
		}
		if relu && s < 0 {
			s = 0
		}
		out[o] = s
	}
}

// forward runs image i of b, filling the activations; it returns the logits.
func (c *Classifier) forward(b *batch.Batch, i int, a *activations) []float32 {
	pool(b, i, a.x)
	dense(c.W1, c.B1, a.x, a.h1, true)
	dense(c.W2, c.B2, a.h1, a.f, true)
	dense(c.W3, c.B3, a.f, a.logits, false)
	return a.logits
}

type activations struct{ x, h1, f, logits []float32 }

func newActivations() *activations {
	return &activations{make([]float32, clsIn), make([]float32, clsHidden), make([]float32, ClassifierFeatures), make([]float32, clsClasses)}
}

// Features returns the penultimate activations f of every image of b, [N][ClassifierFeatures]
// as float64. b must be [N,28,28,1] with intensities in [0,1] (MNIST's v/255).
func (c *Classifier) Features(b *batch.Batch) ([][]float64, error) {
	if !classifierApplies(b) {
		return nil, fmt.Errorf("the MNIST classifier reads 28x28 grayscale images, got %s", b.Shape)
	}
	a := newActivations()
	out := make([][]float64, b.N)
	for i := range out {
		c.forward(b, i, a)
		out[i] = make([]float64, ClassifierFeatures)
		for k, v := range a.f {
			out[i][k] = float64(v)
		}
	}
	return out, nil
}

// Predict returns the most probable class of every image of b.
func (c *Classifier) Predict(b *batch.Batch) ([]int, error) {
	if !classifierApplies(b) {
		return nil, fmt.Errorf("the MNIST classifier reads 28x28 grayscale images, got %s", b.Shape)
	}
	a := newActivations()
	out := make([]int, b.N)
	for i := range out {
		l := c.forward(b, i, a)
		best := float32(math.Inf(-1))
		for k, v := range l {
			if v > best {
				best, out[i] = v, k
			}
		}
	}
	return out, nil
}

// Confidence returns, for every image of b, the classifier's largest class probability
// max_k softmax(logits)_k in [0.1, 1]: how surely it reads the image as some digit. The
// issue #12 prior check counts the prior samples with Confidence >= 0.9.
func (c *Classifier) Confidence(b *batch.Batch) ([]float64, error) {
	if !classifierApplies(b) {
		return nil, fmt.Errorf("the MNIST classifier reads 28x28 grayscale images, got %s", b.Shape)
	}
	a := newActivations()
	out := make([]float64, b.N)
	for i := range out {
		l := c.forward(b, i, a)
		best := math.Inf(-1)
		for _, v := range l {
			best = math.Max(best, float64(v))
		}
		var sum float64
		for _, v := range l {
			sum += math.Exp(float64(v) - best)
		}
		out[i] = 1 / sum // exp(best-best) / sum
	}
	return out, nil
}
