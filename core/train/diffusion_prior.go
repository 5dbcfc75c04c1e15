package train

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// LoadPrior reads the diffusion prior from the latest checkpoint of the training folder dir:
// the EMA (shadow) weights of the U-Net, which the checkpoint holds under /ema/unet/..., placed
// at the U-Net's own scope /unet/... of a new context, ready for diffusion.NewSampler with the
// pipeline's UNet config. It returns the context and the checkpoint's step (within its training phase).
// Warnings of LoadLatest (a damaged checkpoint skipped) go to log.
// The averaged weights are the ones to sample with (Ho et al. 2020, appendix B); a checkpoint
// without them (no diffusion step ever ran) is an error.
func LoadPrior(dir string, log *slog.Logger) (*mlctx.Context, int, error) {
	ck, err := LoadLatest(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("load the diffusion prior from %s: %w (train the models first)", dir, err)
	}
	for _, w := range ck.Warnings {
		log.Warn(w)
	}
	prefix := "/" + diffusion.EMAScope + UNetScope + "/"
	var names []string
	for name := range ck.Values {
		if strings.HasPrefix(name, prefix) && !strings.HasSuffix(name, "/"+diffusion.EMACountName) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, 0, fmt.Errorf("checkpoint in %s holds no EMA weights of the diffusion model (under %s): was it trained?", dir, prefix)
	}
	sort.Strings(names)
	ctx := mlctx.New()
	for _, name := range names {
		own := strings.TrimPrefix(name, "/"+diffusion.EMAScope)
		cut := strings.LastIndex(own, "/")
		scope, varName := own[:cut], own[cut+1:]
		if scope == "" {
			scope = mlctx.RootScope
		}
		ctx.InAbsPath(scope).VariableWithValue(varName, ck.Values[name])
	}
	return ctx, ck.Step, nil
}
