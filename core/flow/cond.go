package flow

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// condScope is the scope of the conditioning network, under Scope.
const condScope = "cond"

// condProjKernel is the kernel size of the projection of the conditioning features into the
// coupling networks.
const condProjKernel = 1

// condInputs computes the conditioning network and returns, for level l and step k, the
// conditioning input of that step's coupling network, [N, H/2^(l+1), W/2^(l+1), Hidden] (nil for
// every step when cond is nil: unconditional flow). With cond [N, H, W, Cc], the features at
// level l (CondHidden channels, resolution H/2^(l+1)) are
//
//	c₀ = SiLU(conv3x3(SiLU(conv3x3(SpaceToDepth(cond, 2)))))
//	c_l = SiLU(conv3x3(AvgPool2(c_{l-1})))                          l >= 1
//	[in_{l,0}, ..., in_{l,K_l-1}] = conv1x1([c_l, S_{l+1}(cond)])   K_l·Hidden channels, no bias
//
// with S_{l+1} the space-to-depth by 2^(l+1) (cond's own pixels at the level's resolution).
//
// in_{l,k} is added to the first layer of coupling k of level l, which thus acts on the
// concatenation [ha, c_l] (3x3 kernel on ha, 1x1 on the features, which already see 5x5
// neighbourhoods of the squeezed cond at level 0 and grow by pooling); K_l = Config.StepsAt(l).
// One projection per level for all its steps is one wide matmul instead of K_l narrow ones. The first space-to-depth keeps
// every pixel of cond; deeper levels pool learned features, 4x cheaper than squeezing them (the
// conditioning network is a third of a training step's work at the default config).
func condInputs(ctx *context.Context, cfg Config, cond *graph.Node) [][]*graph.Node {
	out := make([][]*graph.Node, cfg.Levels)
	for l := range out {
		out[l] = make([]*graph.Node, cfg.StepsAt(l))
	}
	if cond == nil {
		return out
	}
	ctx = ctx.In(condScope)
	c := cond
	for l := range cfg.Levels {
		lc := ctx.In(fmt.Sprintf("level%d", l))
		if l == 0 {
			c = nn.SiLU(nn.Conv2D(lc.In("in"), nn.SpaceToDepth(c, 2), cfg.CondHidden, 3, 1, true))
			c = nn.SiLU(nn.Conv2D(lc.In("out"), c, cfg.CondHidden, 3, 1, true))
		} else {
			c = nn.SiLU(nn.Conv2D(lc.In("in"), nn.AvgPool2(c), cfg.CondHidden, 3, 1, true))
		}
		steps := cfg.StepsAt(l)
		if steps == 0 {
			continue
		}
		// The projection also reads cond itself, space-to-depth to the level's resolution
		// (every pixel of the observation, 4^(l+1)·Cc channels): the pooled features alone
		// average away the pixel detail a coupling at a coarse level needs to denoise
		// pixel by pixel.
		feat := graph.Concatenate([]*graph.Node{c, nn.SpaceToDepth(cond, 1<<(l+1))}, -1)
		proj := nn.Conv2D(lc.In("proj"), feat, steps*cfg.Hidden, condProjKernel, 1, false)
		for k := range steps {
			if steps == 1 {
				out[l][k] = proj
			} else {
				out[l][k] = channels(proj, k*cfg.Hidden, (k+1)*cfg.Hidden)
			}
		}
	}
	return out
}
