package train

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
)

// ValidationFile is the in-training validation CSV in the run folder: the PSNR of the flow's
// posterior mean (and of one posterior sample) on held-out observations at every checkpoint,
// against the cumulative training time, the PSNR-versus-wall-time curve of docs/training.md.
const ValidationFile = "validation.csv"

var validationHeader = []string{"phase", "step", "train_s", "psnr_posterior_mean", "psnr_posterior_sample", "images", "samples", "time_utc"}

// Validation is what SetValidation scores during training: the first Images of the test
// problem's observations (all when Images is 0 or more than there are), restored by the
// posterior mean of Samples flow draws, against their clean images (PSNR on [0,1]).
type Validation struct {
	Test    Problem      // held-out observations, their parameters and the forward model
	Clean   *batch.Batch // their clean images, in the same order
	Images  int
	Samples int
	Seed    int64
}

// validator holds a Validation with its restricted observations and base images.
type validator struct {
	v           Validation
	obs, clean  *batch.Batch
	base        *batch.Batch
	rows        [][]string
	path        string
	initialized bool
}

// SetValidation makes Run score the posterior mean at every checkpoint into
// dir/validation.csv. The scoring time is not counted as training time.
func (t *Trainer) SetValidation(ctx context.Context, v Validation) error {
	if v.Clean == nil || v.Test.Obs == nil {
		return errors.New("validation needs the held-out observations and their clean images")
	}
	if v.Clean.N != v.Test.Obs.N {
		return fmt.Errorf("validation: %d observations but %d clean images", v.Test.Obs.N, v.Clean.N)
	}
	if v.Samples < 1 {
		return fmt.Errorf("validation: samples must be >= 1, got %d", v.Samples)
	}
	n := v.Test.Obs.N
	if v.Images > 0 && v.Images < n {
		n = v.Images
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	val := &validator{v: v, obs: v.Test.Obs.Gather(idx), clean: v.Clean.Gather(idx)}
	test := v.Test
	test.Obs = val.obs
	if test.Params != nil {
		test.Params = test.Params.Gather(idx)
	}
	base, err := baseImages(ctx, test)
	if err != nil {
		return fmt.Errorf("validation: %w", err)
	}
	val.base = base
	t.val = val
	return nil
}

// openValidation loads dir/validation.csv, keeping the rows up to the checkpoint position st
// (a resumed run scores those steps again).
func (val *validator) open(dir string, st State) error {
	val.path = filepath.Join(dir, ValidationFile)
	val.rows = nil
	data, err := os.ReadFile(val.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		return fmt.Errorf("%s is damaged (%w): delete it to start its curve again", val.path, err)
	}
	for _, r := range rows[min(1, len(rows)):] {
		if len(r) < 2 {
			continue
		}
		step, err := strconv.Atoi(r[1])
		if err != nil {
			continue
		}
		if p := phaseIndex(r[0]); p < st.Phase || (p == st.Phase && step <= st.Step) {
			val.rows = append(val.rows, r)
		}
	}
	return nil
}

// score restores the validation observations with the flow as it is now and appends a row.
func (t *Trainer) score(ctx context.Context, st *State) error {
	val := t.val
	post, err := t.Posterior(ctx, val.obs, val.base, val.v.Samples, val.v.Seed)
	if err != nil {
		return fmt.Errorf("validation after %s step %d: %w", phaseNames[st.Phase], st.Step, err)
	}
	psnr := func(img *batch.Batch) (float64, error) {
		v, err := metrics.PSNR{Range: 1}.Compute(ctx, val.clean, img)
		if err != nil {
			return 0, err
		}
		return mean(v), nil
	}
	pm, err := psnr(post.Mean)
	if err != nil {
		return err
	}
	ps, err := psnr(post.Sample)
	if err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	val.rows = append(val.rows, []string{phaseNames[st.Phase], strconv.Itoa(st.Step), f(st.TrainSeconds), f(pm), f(ps),
		strconv.Itoa(val.obs.N), strconv.Itoa(val.v.Samples), time.Now().UTC().Format(time.RFC3339)})
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(validationHeader)
	w.WriteAll(val.rows)
	if err := atomicfile.WriteFile(val.path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	t.log.Info("validation", "phase", phaseNames[st.Phase], "step", st.Step, "train_s", int(st.TrainSeconds),
		"psnr_posterior_mean", f(pm), "psnr_posterior_sample", f(ps))
	return nil
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
