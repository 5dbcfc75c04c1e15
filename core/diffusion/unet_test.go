package diffusion

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestEpsModelShapes checks that the U-Net maps x_t to an output of the same shape on MNIST-
// and CIFAR-sized images, for the default configuration and DDPM's layout (no patch, three
// levels 28 -> 14 -> 7), and that the zero-initialized last convolution makes it start at 0.
func TestEpsModelShapes(t *testing.T) {
	cases := []struct {
		name  string
		cfg   UNetConfig
		shape batch.Shape
	}{
		{"default/28x28x1", UNetConfig{}, batch.Shape{N: 2, H: 28, W: 28, C: 1}},
		{"default/32x32x3", UNetConfig{}, batch.Shape{N: 2, H: 32, W: 32, C: 3}},
		{"ddpm-layout/28x28x1", UNetConfig{Patch: 1, Multipliers: []int{1, 2, 2}}, batch.Shape{N: 2, H: 28, W: 28, C: 1}},
		{"attention/32x32x3", UNetConfig{Attention: true, Multipliers: []int{1, 2, 2}}, batch.Shape{N: 1, H: 32, W: 32, C: 3}},
	}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 1))
				ctx := seededContext(t, 1)
				e := context.MustNewExec(b, ctx, func(ctx *context.Context, x, tt *graph.Node) *graph.Node {
					return EpsModel(ctx, c.cfg, x, tt)
				})
				x := randomBatch(rng, c.shape)
				ts := make([]float32, c.shape.N)
				for i := range ts {
					ts[i] = float32(rng.IntN(DefaultSteps))
				}
				out := e.MustExec(tensors.FromFlatDataAndDimensions(x.Data, c.shape.Dims()...),
					tensors.FromFlatDataAndDimensions(ts, c.shape.N))[0]
				if got := out.Shape().Dimensions; !reflect.DeepEqual(got, c.shape.Dims()) {
					t.Fatalf("output shape %v, want %v", got, c.shape.Dims())
				}
				for i, v := range tensors.MustCopyFlatData[float32](out) {
					if v != 0 {
						t.Fatalf("output[%d] = %v at initialization, want exactly 0 (zero-initialized last conv)", i, v)
					}
				}
			})
		}
	})
}

// TestUNetValidate checks the size rules and their messages, and that EpsModel refuses a size
// Validate rejects.
func TestUNetValidate(t *testing.T) {
	cases := []struct {
		cfg     UNetConfig
		h, w, c int
		wantErr string // "" for none
	}{
		{UNetConfig{}, 28, 28, 1, ""},
		{UNetConfig{}, 32, 32, 3, ""},
		{UNetConfig{Patch: 1, Multipliers: []int{1, 2, 2}}, 28, 28, 1, ""},
		{UNetConfig{}, 30, 28, 1, "divisible by 4"},
		{UNetConfig{Multipliers: []int{1, 2, 2}}, 28, 28, 1, "divisible by 8"},
		{UNetConfig{Patch: 1, Multipliers: []int{1, 2, 2, 2}}, 28, 28, 1, "divisible by 8"},
		{UNetConfig{Multipliers: []int{1, 0}}, 28, 28, 1, "multipliers"},
		{UNetConfig{TimeEmbed: 7}, 28, 28, 1, "time_embed"},
		{UNetConfig{Channels: -1}, 28, 28, 1, "channels"},
		{UNetConfig{}, 28, 28, 0, "invalid image size"},
	}
	for _, c := range cases {
		err := c.cfg.Validate(c.h, c.w, c.c)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%+v on %dx%dx%d: unexpected error %v", c.cfg, c.h, c.w, c.c, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%+v on %dx%dx%d: error %v, want one containing %q", c.cfg, c.h, c.w, c.c, err, c.wantErr)
		}
	}
	b := gomlxtest.Backend(t, testGoConfig)
	e := context.MustNewExec(b, seededContext(t, 1), func(ctx *context.Context, x, tt *graph.Node) *graph.Node {
		return EpsModel(ctx, UNetConfig{}, x, tt)
	})
	_, err := e.Exec(tensors.FromShape(graphShape(1, 30, 30, 1)), tensors.FromShape(graphShape(1)))
	if err == nil || !strings.Contains(err.Error(), "divisible by 4") {
		t.Errorf("EpsModel on 30x30: error %v, want the Validate message", err)
	}
}

// TestUNetConfigDefaults checks that the schema's default tags and WithDefaults agree, so the
// zero value and an empty YAML section mean the same network.
func TestUNetConfigDefaults(t *testing.T) {
	var decoded UNetConfig
	if errs := schema.Unmarshal([]byte("channels: 16\n"), &decoded); len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := (UNetConfig{}).WithDefaults(); !reflect.DeepEqual(decoded, want) {
		t.Errorf("schema defaults %+v, WithDefaults %+v", decoded, want)
	}
	var bad UNetConfig
	errs := schema.Unmarshal([]byte("multipliers: [1, 0]\ntime_embed: 9\n"), &bad)
	if len(errs) != 2 {
		t.Errorf("want 2 problems (multipliers, time_embed), got %v", errs)
	}
}

// TestInitUNet checks that InitUNet creates every variable with a value, once.
func TestInitUNet(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	ctx := seededContext(t, 3)
	if err := InitUNet(b, ctx, UNetConfig{}, batch.Shape{N: 1, H: 28, W: 28, C: 1}); err != nil {
		t.Fatal(err)
	}
	vars := trainableVars(ctx, "/"+UNetScope)
	if len(vars) < 20 {
		t.Fatalf("only %d variables under /unet", len(vars))
	}
	for _, v := range vars {
		if !v.HasValue() {
			t.Errorf("%s has no value", v.ScopeAndName())
		}
	}
	if err := InitUNet(b, ctx, UNetConfig{}, batch.Shape{N: 1, H: 30, W: 30, C: 1}); err == nil {
		t.Error("InitUNet accepted 30x30 with the default patch and levels")
	}
}
