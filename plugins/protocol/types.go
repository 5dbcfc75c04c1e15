package protocol

import (
	"context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Param types a plugin may declare (ParamDoc.Type).
const (
	TypeNumber   = "number"   // float64
	TypeInteger  = "integer"  // int
	TypeString   = "string"   // string
	TypeBool     = "bool"     // bool
	TypeNumbers  = "numbers"  // []float64
	TypeIntegers = "integers" // []int
	TypeStrings  = "strings"  // []string
)

// ParamDoc documents one parameter of a part, with the tags of core/schema.
type ParamDoc struct {
	Name    string // YAML key: lowercase letters, digits and underscores
	Type    string // one of the Type* constants
	Default string // YAML scalar or flow list ("[1, 2]"); "" when none
	Check   string // core/schema rules, e.g. ">0", "oneof=a|b", "required"
	Doc     string // meaning and unit
}

// PartInfo describes one part a plugin provides.
type PartInfo struct {
	ID             string // registry ID, e.g. "micro.widefield"
	Kind           string // operator, noise, prior or metric (registry.Kind values)
	Summary        string
	Linear         bool // operators
	Params         []ParamDoc
	Example        string // YAML mapping of typical parameters; "" when defaults suffice
	HasMoments     bool   // noise: Moments is served
	HigherIsBetter bool   // metrics
}

// Description is a plugin's answer to Describe.
type Description struct {
	Name    string
	Version string
	Parts   []PartInfo
}

// Seed is the two 64-bit words of a PCG stream.
type Seed [2]uint64

// Server is what a plugin process implements (plugins/sdk does it for Go authors). Every
// method may block and takes ctx; errors are reported to the host with their message. A
// handle comes from Configure.
type Server interface {
	Describe(ctx context.Context) (Description, error)
	Configure(ctx context.Context, id string, configJSON []byte) (handle uint64, err error)
	Release(ctx context.Context, handle uint64) error

	OutShape(ctx context.Context, handle uint64, in batch.Shape) (batch.Shape, error)
	SampleParams(ctx context.Context, handle uint64, in batch.Shape, seed Seed) (part.Params, error)
	Apply(ctx context.Context, handle uint64, x *batch.Batch, p part.Params) (*batch.Batch, error)
	VJP(ctx context.Context, handle uint64, x, v *batch.Batch, p part.Params) (*batch.Batch, error)

	NoiseSample(ctx context.Context, handle uint64, ax *batch.Batch, seed Seed) (*batch.Batch, error)
	NLL(ctx context.Context, handle uint64, y, ax *batch.Batch) ([]float64, error)
	NLLGrad(ctx context.Context, handle uint64, y, ax *batch.Batch) (*batch.Batch, error)
	Moments(ctx context.Context, handle uint64, ax *batch.Batch) (mean, variance *batch.Batch, err error)

	Energy(ctx context.Context, handle uint64, x *batch.Batch) ([]float64, *batch.Batch, error)
	Compute(ctx context.Context, handle uint64, ref, img *batch.Batch) ([]float64, error)
}

// UserError marks an error caused by the host's request (bad parameters, wrong shapes); it
// travels as codes.InvalidArgument. Other errors travel as codes.Internal.
type UserError struct{ Err error }

func (e UserError) Error() string { return e.Err.Error() }
func (e UserError) Unwrap() error { return e.Err }
