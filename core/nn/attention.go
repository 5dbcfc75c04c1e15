package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// AttentionScope is the scope SelfAttention creates its variables under.
const AttentionScope = "attention"

// SelfAttention is DDPM's single-head spatial self-attention block on x [N, H, W, C], meant
// for low resolutions (it holds an [N, H·W, H·W] matrix):
//
//	h = GroupNorm(x);  q, k, v = Dense(h) each to C channels, as [N, H·W, C]
//	a = Softmax(q·kᵀ / √C) over keys;  y = x + Dense(a·v)
//
// Variables under ctx.In(AttentionScope): "norm", "q", "k", "v" and "proj" (zero-initialized,
// so the block starts as the identity, as in DDPM). All products are this package's DotGeneral,
// so the gradient is matmuls.
func SelfAttention(ctx *context.Context, x *graph.Node) *graph.Node {
	checkNHWC("SelfAttention", x)
	ctx = ctx.In(AttentionScope)
	d := x.Shape().Dimensions
	n, hw, c := d[0], d[1]*d[2], d[3]
	h := GroupNorm(ctx.In("norm"), x, NormGroups(c))
	q := graph.Reshape(Dense(ctx.In("q"), h, c, true), n, hw, c)
	k := graph.Reshape(Dense(ctx.In("k"), h, c, true), n, hw, c)
	v := graph.Reshape(Dense(ctx.In("v"), h, c, true), n, hw, c)
	scores := DotGeneral(q, []int{2}, []int{0}, k, []int{2}, []int{0}) // [n, hw(query), hw(key)]
	a := Softmax(graph.MulScalar(scores, 1/math.Sqrt(float64(c))), -1)
	o := graph.Reshape(BatchMatMul(a, v), d...)
	return graph.Add(x, Dense(ctx.In("proj").WithInitializer(initializers.Zero), o, c, true))
}
