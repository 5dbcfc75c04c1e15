package protocol

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flowdiff/flowdiff-go/plugins/internal/proto"
)

// grpcServer adapts a Server to the generated gRPC services.
type grpcServer struct {
	pb.UnimplementedPluginServer
	pb.UnimplementedOperatorServer
	pb.UnimplementedNoiseServer
	pb.UnimplementedPriorServer
	pb.UnimplementedMetricServer
	impl Server
}

// RegisterServer registers impl's five services on s.
func RegisterServer(s *grpc.Server, impl Server) {
	g := &grpcServer{impl: impl}
	pb.RegisterPluginServer(s, g)
	pb.RegisterOperatorServer(s, g)
	pb.RegisterNoiseServer(s, g)
	pb.RegisterPriorServer(s, g)
	pb.RegisterMetricServer(s, g)
}

// recoverUnary turns a panic in a handler into codes.Internal with the panic value and the
// top of the stack, so that a panic never crosses the RPC boundary and the process serves on.
func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s panicked: %v\n%s", info.FullMethod, r, trimStack(debug.Stack()))
		}
	}()
	return h(ctx, req)
}

// trimStack keeps the first 2 KiB of a stack trace.
func trimStack(s []byte) []byte {
	if len(s) > 2048 {
		return s[:2048]
	}
	return s
}

// toStatus maps an implementation error to a gRPC status: UserError -> InvalidArgument,
// context errors -> their codes, anything else -> Internal.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var ue UserError
	switch {
	case errors.As(err, &ue):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// badRequest is a malformed request (undecodable tensor): InvalidArgument.
func badRequest(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

func (g *grpcServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := g.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.DescribeResponse{Name: d.Name, Version: d.Version}
	for _, p := range d.Parts {
		pp := &pb.Part{Id: p.ID, Kind: p.Kind, Summary: p.Summary, Linear: p.Linear, Example: p.Example,
			HasMoments: p.HasMoments, HigherIsBetter: p.HigherIsBetter}
		for _, q := range p.Params {
			pp.Params = append(pp.Params, &pb.Param{Name: q.Name, Type: q.Type, Default: q.Default, Check: q.Check, Doc: q.Doc})
		}
		out.Parts = append(out.Parts, pp)
	}
	return out, nil
}

func (g *grpcServer) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	h, err := g.impl.Configure(ctx, r.Id, []byte(r.ConfigJson))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{Handle: h}, nil
}

func (g *grpcServer) Release(ctx context.Context, r *pb.ReleaseRequest) (*pb.ReleaseResponse, error) {
	return &pb.ReleaseResponse{}, toStatus(g.impl.Release(ctx, r.Handle))
}

func (g *grpcServer) OutShape(ctx context.Context, r *pb.OutShapeRequest) (*pb.OutShapeResponse, error) {
	in, err := shapeFromProto(r.In)
	if err != nil {
		return nil, badRequest(err)
	}
	out, err := g.impl.OutShape(ctx, r.Handle, in)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.OutShapeResponse{Out: shapeToProto(out)}, nil
}

func (g *grpcServer) SampleParams(ctx context.Context, r *pb.SampleParamsRequest) (*pb.SampleParamsResponse, error) {
	in, err := shapeFromProto(r.In)
	if err != nil {
		return nil, badRequest(err)
	}
	p, err := g.impl.SampleParams(ctx, r.Handle, in, Seed{r.Seed1, r.Seed2})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SampleParamsResponse{Params: paramsToProto(p)}, nil
}

func (g *grpcServer) Apply(ctx context.Context, r *pb.ApplyRequest) (*pb.ApplyResponse, error) {
	x, err := tensorFromProto(r.X, "x")
	if err != nil {
		return nil, badRequest(err)
	}
	p, err := paramsFromProto(r.Params)
	if err != nil {
		return nil, badRequest(err)
	}
	y, err := g.impl.Apply(ctx, r.Handle, x, p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ApplyResponse{Y: tensorToProto(y)}, nil
}

func (g *grpcServer) VJP(ctx context.Context, r *pb.VJPRequest) (*pb.VJPResponse, error) {
	x, err1 := tensorFromProto(r.X, "x")
	v, err2 := tensorFromProto(r.V, "v")
	p, err3 := paramsFromProto(r.Params)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, badRequest(err)
	}
	gr, err := g.impl.VJP(ctx, r.Handle, x, v, p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.VJPResponse{G: tensorToProto(gr)}, nil
}

func (g *grpcServer) Sample(ctx context.Context, r *pb.NoiseSampleRequest) (*pb.NoiseSampleResponse, error) {
	ax, err := tensorFromProto(r.Ax, "ax")
	if err != nil {
		return nil, badRequest(err)
	}
	y, err := g.impl.NoiseSample(ctx, r.Handle, ax, Seed{r.Seed1, r.Seed2})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.NoiseSampleResponse{Y: tensorToProto(y)}, nil
}

func (g *grpcServer) NLL(ctx context.Context, r *pb.NLLRequest) (*pb.NLLResponse, error) {
	y, err1 := tensorFromProto(r.Y, "y")
	ax, err2 := tensorFromProto(r.Ax, "ax")
	if err := errors.Join(err1, err2); err != nil {
		return nil, badRequest(err)
	}
	v, err := g.impl.NLL(ctx, r.Handle, y, ax)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.NLLResponse{Nll: v}, nil
}

func (g *grpcServer) NLLGrad(ctx context.Context, r *pb.NLLRequest) (*pb.NLLGradResponse, error) {
	y, err1 := tensorFromProto(r.Y, "y")
	ax, err2 := tensorFromProto(r.Ax, "ax")
	if err := errors.Join(err1, err2); err != nil {
		return nil, badRequest(err)
	}
	gr, err := g.impl.NLLGrad(ctx, r.Handle, y, ax)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.NLLGradResponse{Grad: tensorToProto(gr)}, nil
}

func (g *grpcServer) Moments(ctx context.Context, r *pb.MomentsRequest) (*pb.MomentsResponse, error) {
	ax, err := tensorFromProto(r.Ax, "ax")
	if err != nil {
		return nil, badRequest(err)
	}
	m, v, err := g.impl.Moments(ctx, r.Handle, ax)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.MomentsResponse{Mean: tensorToProto(m), Variance: tensorToProto(v)}, nil
}

func (g *grpcServer) Energy(ctx context.Context, r *pb.EnergyRequest) (*pb.EnergyResponse, error) {
	x, err := tensorFromProto(r.X, "x")
	if err != nil {
		return nil, badRequest(err)
	}
	e, gr, err := g.impl.Energy(ctx, r.Handle, x)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EnergyResponse{Energy: e, Grad: tensorToProto(gr)}, nil
}

func (g *grpcServer) Compute(ctx context.Context, r *pb.ComputeRequest) (*pb.ComputeResponse, error) {
	ref, err1 := tensorFromProto(r.Ref, "ref")
	img, err2 := tensorFromProto(r.Img, "img")
	if err := errors.Join(err1, err2); err != nil {
		return nil, badRequest(err)
	}
	v, err := g.impl.Compute(ctx, r.Handle, ref, img)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ComputeResponse{Values: v}, nil
}

// Errorf returns a UserError, for implementations.
func Errorf(format string, args ...any) error { return UserError{fmt.Errorf(format, args...)} }
