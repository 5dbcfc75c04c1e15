package nn

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

const (
	// TimeEmbeddingScope is the scope TimeEmbedding creates its variables under.
	TimeEmbeddingScope = "time_embedding"
	// TimeEmbeddingMaxPeriod is the longest period of SinusoidalEmbedding's frequencies (DDPM,
	// after the Transformer's positional encoding).
	TimeEmbeddingMaxPeriod = 10000.0
)

// SinusoidalEmbedding embeds the timesteps t, shaped [batch] (any float dtype, usually the
// integer step 0..T-1 as a float), into [batch, dim] (dim even, >= 4) as DDPM's
// get_timestep_embedding (Ho et al. 2020, after Vaswani et al. 2017):
//
//	ω_i = TimeEmbeddingMaxPeriod^(-i/(dim/2-1)),  i = 0..dim/2-1
//	e[n] = [sin(t_n ω_0), ..., sin(t_n ω_{dim/2-1}), cos(t_n ω_0), ..., cos(t_n ω_{dim/2-1})]
func SinusoidalEmbedding(t *graph.Node, dim int) *graph.Node {
	if t.Rank() != 1 || dim < 4 || dim%2 != 0 {
		panic(fmt.Sprintf("nn.SinusoidalEmbedding: need t [batch] and an even dim >= 4, got %s, %d", t.Shape(), dim))
	}
	half := dim / 2
	freqs := make([]float64, half)
	for i := range freqs {
		freqs[i] = math.Exp(-math.Log(TimeEmbeddingMaxPeriod) * float64(i) / float64(half-1))
	}
	w := graph.ConvertDType(graph.Const(t.Graph(), freqs), t.DType())
	args := graph.Mul(graph.InsertAxes(t, -1), graph.InsertAxes(w, 0)) // [batch, half]
	return graph.Concatenate([]*graph.Node{graph.Sin(args), graph.Cos(args)}, 1)
}

// TimeEmbedding is DDPM's timestep embedding: SinusoidalEmbedding(t, baseDim), then
// Dense(outDim) -> SiLU -> Dense(outDim) (DDPM uses baseDim = model channels, outDim = 4x that).
// t is [batch]; the result is [batch, outDim]. Variables under ctx.In(TimeEmbeddingScope), in
// sub-scopes "dense0" and "dense1".
func TimeEmbedding(ctx *context.Context, t *graph.Node, baseDim, outDim int) *graph.Node {
	ctx = ctx.In(TimeEmbeddingScope)
	h := Dense(ctx.In("dense0"), SinusoidalEmbedding(t, baseDim), outDim, true)
	return Dense(ctx.In("dense1"), SiLU(h), outDim, true)
}
