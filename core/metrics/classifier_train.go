package metrics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// ClassifierTraining sets how TrainClassifier fits the MNIST classifier. The zero value means
// the defaults, which built the embedded file.
type ClassifierTraining struct {
	Epochs   int     // passes over the images; default 20
	Batch    int     // images per step; default 32
	LR       float64 // SGD learning rate; default 0.02
	Momentum float64 // heavy-ball momentum; default 0.9
	Decay    float64 // L2 weight decay on the weights (not biases); default 1e-4
	Seed     uint64  // initialization and shuffling; default 1
}

func (o ClassifierTraining) withDefaults() ClassifierTraining {
	if o.Epochs == 0 {
		o.Epochs = 20
	}
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.LR == 0 {
		o.LR = 0.02
	}
	if o.Momentum == 0 {
		o.Momentum = 0.9
	}
	if o.Decay == 0 {
		o.Decay = 1e-4
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// TrainClassifier fits the classifier to images [N,28,28,1] in [0,1] with labels 0..9 by
// minibatch SGD with momentum on the mean cross-entropy, from He-normal weights (He et al.
// 2015) and zero biases. It runs in one goroutine in a fixed order, so the same inputs and
// options give the same weights on a given architecture (bit for bit on amd64; arm64 may fuse
// multiply-adds differently). progress, if set, gets each epoch's mean loss.
func TrainClassifier(ctx context.Context, images *batch.Batch, labels []int, o ClassifierTraining, progress func(epoch int, loss float64)) (*Classifier, error) {
	if !classifierApplies(images) {
		return nil, fmt.Errorf("train classifier: want [N,28,28,1] images, got %s", images.Shape)
	}
	if len(labels) != images.N {
		return nil, fmt.Errorf("train classifier: %d labels for %d images", len(labels), images.N)
	}
	for i, l := range labels {
		if l < 0 || l >= clsClasses {
			return nil, fmt.Errorf("train classifier: label %d of image %d outside 0..9", l, i)
		}
	}
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0xc1a55))
	c := newClassifier()
	fans := []int{clsIn, 0, clsHidden, 0, ClassifierFeatures, 0}
	for k, p := range c.parts() {
		if fans[k] == 0 {
			continue // biases start at 0
		}
		sd := math.Sqrt(2 / float64(fans[k]))
		for i := range *p {
			(*p)[i] = float32(sd * rng.NormFloat64())
		}
	}
	grad, vel := newClassifier(), newClassifier()
	a := newActivations()
	dl, df, dh := make([]float32, clsClasses), make([]float32, ClassifierFeatures), make([]float32, clsHidden)
	for epoch := range o.Epochs {
		order := rng.Perm(images.N)
		var lossSum float64
		for from := 0; from < len(order); from += o.Batch {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			idx := order[from:min(len(order), from+o.Batch)]
			for _, p := range grad.parts() {
				clear(*p)
			}
			for _, i := range idx {
				l := c.forward(images, i, a)
				lossSum += softmaxGrad(l, labels[i], dl)
				backDense(c.W3, grad.W3, grad.B3, dl, a.f, df)
				reluMask(df, a.f)
				backDense(c.W2, grad.W2, grad.B2, df, a.h1, dh)
				reluMask(dh, a.h1)
				backDense(c.W1, grad.W1, grad.B1, dh, a.x, nil)
			}
			scale := float32(1 / float64(len(idx)))
			wp, gp, vp := c.parts(), grad.parts(), vel.parts()
			for k := range wp {
				w, g, v := *wp[k], *gp[k], *vp[k]
				decay := float32(0)
				if k%2 == 0 {
					decay = float32(o.Decay)
				}
				for i := range w {
					v[i] = float32(o.Momentum)*v[i] - float32(o.LR)*(g[i]*scale+decay*w[i])
					w[i] += v[i]
				}
			}
		}
		if progress != nil {
			progress(epoch+1, lossSum/float64(images.N))
		}
	}
	return c, nil
}

// softmaxGrad writes d(cross-entropy)/d(logits) = softmax(l) - onehot(label) into d and
// returns the cross-entropy.
func softmaxGrad(l []float32, label int, d []float32) float64 {
	m := l[0]
	for _, v := range l {
		m = max(m, v)
	}
	var z float64
	for k, v := range l {
		e := math.Exp(float64(v - m))
		d[k] = float32(e)
		z += e
	}
	for k := range d {
		d[k] = float32(float64(d[k]) / z)
	}
	loss := -math.Log(max(float64(d[label]), 1e-30))
	d[label]--
	return loss
}

// backDense accumulates the gradients of out = W in + b given dout: dW += dout inᵀ, db += dout,
// and writes din = Wᵀ dout when din is not nil.
func backDense(w, dw, db, dout, in, din []float32) {
	clear(din)
	for o, g := range dout {
		db[o] += g
		row, drow := w[o*len(in):(o+1)*len(in)], dw[o*len(in):(o+1)*len(in)]
		for i, v := range in {
			drow[i] += g * v
		}
		if din != nil {
			for i := range din {
				din[i] += g * row[i]
			}
		}
	}
}

// reluMask zeroes the gradient where the ReLU's output was 0.
func reluMask(d, out []float32) {
	for i, v := range out {
		if v <= 0 {
			d[i] = 0
		}
	}
}

// ClassifierHeldOut splits the MNIST test-split division the embedded classifier uses: images
// [0, ClassifierHeldOut) are held out (accuracy test, and the images pipelines evaluate on),
// the rest train it.
const ClassifierHeldOut = 2000
