package protocol

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	pb "github.com/flowdiff/flowdiff-go/plugins/internal/proto"
)

// RemoteError is a failed call: the method, the gRPC code and the plugin's message. Code
// Unavailable means the connection broke (the process died), DeadlineExceeded a timeout,
// InvalidArgument a rejected request, Internal a failure or recovered panic in the plugin.
type RemoteError struct {
	Method string
	Code   codes.Code
	Msg    string
}

func (e *RemoteError) Error() string {
	if e.Code == codes.InvalidArgument || e.Code == codes.Internal || e.Code == codes.Unknown {
		return fmt.Sprintf("%s: %s", e.Method, e.Msg)
	}
	return fmt.Sprintf("%s: %s (%s)", e.Method, e.Msg, e.Code)
}

func remote(method string, err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	return &RemoteError{Method: method, Code: st.Code(), Msg: st.Message()}
}

// Client calls a plugin's services over conn; it implements Server, so the host sees a plugin
// through the same Go types as the plugin's author.
type Client struct {
	plugin   pb.PluginClient
	operator pb.OperatorClient
	noise    pb.NoiseClient
	prior    pb.PriorClient
	metric   pb.MetricClient
}

// NewClient returns a Client on conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{plugin: pb.NewPluginClient(conn), operator: pb.NewOperatorClient(conn),
		noise: pb.NewNoiseClient(conn), prior: pb.NewPriorClient(conn), metric: pb.NewMetricClient(conn)}
}

// Describe implements Server.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	r, err := c.plugin.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, remote("Describe", err)
	}
	d := Description{Name: r.Name, Version: r.Version}
	for _, p := range r.Parts {
		pi := PartInfo{ID: p.Id, Kind: p.Kind, Summary: p.Summary, Linear: p.Linear, Example: p.Example,
			HasMoments: p.HasMoments, HigherIsBetter: p.HigherIsBetter}
		for _, q := range p.Params {
			pi.Params = append(pi.Params, ParamDoc{Name: q.Name, Type: q.Type, Default: q.Default, Check: q.Check, Doc: q.Doc})
		}
		d.Parts = append(d.Parts, pi)
	}
	return d, nil
}

// Configure implements Server.
func (c *Client) Configure(ctx context.Context, id string, configJSON []byte) (uint64, error) {
	r, err := c.plugin.Configure(ctx, &pb.ConfigureRequest{Id: id, ConfigJson: string(configJSON)})
	if err != nil {
		return 0, remote("Configure", err)
	}
	return r.Handle, nil
}

// Release implements Server.
func (c *Client) Release(ctx context.Context, handle uint64) error {
	_, err := c.plugin.Release(ctx, &pb.ReleaseRequest{Handle: handle})
	return remote("Release", err)
}

// OutShape implements Server.
func (c *Client) OutShape(ctx context.Context, h uint64, in batch.Shape) (batch.Shape, error) {
	r, err := c.operator.OutShape(ctx, &pb.OutShapeRequest{Handle: h, In: shapeToProto(in)})
	if err != nil {
		return batch.Shape{}, remote("OutShape", err)
	}
	s, err := shapeFromProto(r.Out)
	if err != nil {
		return s, fmt.Errorf("OutShape: plugin answered %w", err)
	}
	return s, nil
}

// SampleParams implements Server.
func (c *Client) SampleParams(ctx context.Context, h uint64, in batch.Shape, seed Seed) (part.Params, error) {
	r, err := c.operator.SampleParams(ctx, &pb.SampleParamsRequest{Handle: h, In: shapeToProto(in), Seed1: seed[0], Seed2: seed[1]})
	if err != nil {
		return nil, remote("SampleParams", err)
	}
	p, err := paramsFromProto(r.Params)
	if err != nil {
		return nil, fmt.Errorf("SampleParams: plugin answered %w", err)
	}
	return p, nil
}

// Apply implements Server.
func (c *Client) Apply(ctx context.Context, h uint64, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	r, err := c.operator.Apply(ctx, &pb.ApplyRequest{Handle: h, X: tensorToProto(x), Params: paramsToProto(p)})
	if err != nil {
		return nil, remote("Apply", err)
	}
	return answer("Apply", r.Y, "y")
}

// VJP implements Server.
func (c *Client) VJP(ctx context.Context, h uint64, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	r, err := c.operator.VJP(ctx, &pb.VJPRequest{Handle: h, X: tensorToProto(x), V: tensorToProto(v), Params: paramsToProto(p)})
	if err != nil {
		return nil, remote("VJP", err)
	}
	return answer("VJP", r.G, "g")
}

// NoiseSample implements Server.
func (c *Client) NoiseSample(ctx context.Context, h uint64, ax *batch.Batch, seed Seed) (*batch.Batch, error) {
	r, err := c.noise.Sample(ctx, &pb.NoiseSampleRequest{Handle: h, Ax: tensorToProto(ax), Seed1: seed[0], Seed2: seed[1]})
	if err != nil {
		return nil, remote("Sample", err)
	}
	return answer("Sample", r.Y, "y")
}

// NLL implements Server.
func (c *Client) NLL(ctx context.Context, h uint64, y, ax *batch.Batch) ([]float64, error) {
	r, err := c.noise.NLL(ctx, &pb.NLLRequest{Handle: h, Y: tensorToProto(y), Ax: tensorToProto(ax)})
	if err != nil {
		return nil, remote("NLL", err)
	}
	return r.Nll, nil
}

// NLLGrad implements Server.
func (c *Client) NLLGrad(ctx context.Context, h uint64, y, ax *batch.Batch) (*batch.Batch, error) {
	r, err := c.noise.NLLGrad(ctx, &pb.NLLRequest{Handle: h, Y: tensorToProto(y), Ax: tensorToProto(ax)})
	if err != nil {
		return nil, remote("NLLGrad", err)
	}
	return answer("NLLGrad", r.Grad, "grad")
}

// Moments implements Server.
func (c *Client) Moments(ctx context.Context, h uint64, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	r, err := c.noise.Moments(ctx, &pb.MomentsRequest{Handle: h, Ax: tensorToProto(ax)})
	if err != nil {
		return nil, nil, remote("Moments", err)
	}
	if mean, err = answer("Moments", r.Mean, "mean"); err != nil {
		return nil, nil, err
	}
	variance, err = answer("Moments", r.Variance, "variance")
	return mean, variance, err
}

// Energy implements Server.
func (c *Client) Energy(ctx context.Context, h uint64, x *batch.Batch) ([]float64, *batch.Batch, error) {
	r, err := c.prior.Energy(ctx, &pb.EnergyRequest{Handle: h, X: tensorToProto(x)})
	if err != nil {
		return nil, nil, remote("Energy", err)
	}
	g, err := answer("Energy", r.Grad, "grad")
	return r.Energy, g, err
}

// Compute implements Server.
func (c *Client) Compute(ctx context.Context, h uint64, ref, img *batch.Batch) ([]float64, error) {
	r, err := c.metric.Compute(ctx, &pb.ComputeRequest{Handle: h, Ref: tensorToProto(ref), Img: tensorToProto(img)})
	if err != nil {
		return nil, remote("Compute", err)
	}
	return r.Values, nil
}

// answer decodes a tensor in a plugin's answer.
func answer(method string, t *pb.Tensor, what string) (*batch.Batch, error) {
	b, err := tensorFromProto(t, what)
	if err != nil {
		return nil, fmt.Errorf("%s: plugin answered %w", method, err)
	}
	return b, nil
}

var _ Server = (*Client)(nil)
