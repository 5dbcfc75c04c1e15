package metrics

import (
	"context"
	"math"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestPSNRHandComputed checks against values worked out by hand.
func TestPSNRHandComputed(t *testing.T) {
	ctx := t.Context()
	ref := batch.New(2, 2, 2, 1)
	img := batch.New(2, 2, 2, 1)
	// image 0: one pixel off by 0.1 -> MSE = 0.01/4 = 0.0025 -> 10 log10(1/0.0025) = 26.0206 dB
	img.Data[0] = 0.1
	// image 1: every pixel off by 0.5 -> MSE 0.25 -> 6.0206 dB
	for i := 4; i < 8; i++ {
		img.Data[i] = 0.5
	}
	m, err := Build(ctx, "metric.psnr")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Compute(context.Background(), ref, img)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{26.0206, 6.0206}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-3 { // float32 inputs: 1e-3 dB
			t.Errorf("PSNR[%d] = %.4f, want %.4f", i, got[i], want[i])
		}
	}
	same, _ := m.Compute(context.Background(), ref, ref)
	if !math.IsInf(same[0], 1) {
		t.Errorf("PSNR of identical images = %v, want +Inf", same[0])
	}
	if _, err := m.Compute(context.Background(), ref, batch.New(1, 2, 2, 1)); err == nil {
		t.Error("shape mismatch accepted")
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{1, 2, 3, 4})
	// mean 2.5, sample sd sqrt(5/3), se = sd/2
	if s.Mean != 2.5 || math.Abs(s.StdErr-math.Sqrt(5.0/3)/2) > 1e-12 || s.N != 4 {
		t.Errorf("Summarize = %+v", s)
	}
}
