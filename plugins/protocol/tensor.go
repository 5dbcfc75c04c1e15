package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	pb "github.com/flowdiff/flowdiff-go/plugins/internal/proto"
)

// nativeLittle is true on little-endian machines, where float32 slices are copied as bytes.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// EncodeFloats returns the float32 little-endian bytes of d.
func EncodeFloats(d []float32) []byte {
	out := make([]byte, 4*len(d))
	if len(d) == 0 {
		return out
	}
	if nativeLittle {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*len(d)))
		return out
	}
	for i, v := range d {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// DecodeFloats fills d from float32 little-endian bytes; len(b) must be 4·len(d).
func DecodeFloats(d []float32, b []byte) {
	if len(d) == 0 {
		return
	}
	if nativeLittle {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*len(d)), b)
		return
	}
	for i := range d {
		d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func shapeToProto(s batch.Shape) *pb.Shape {
	return &pb.Shape{Dims: []int64{int64(s.N), int64(s.H), int64(s.W), int64(s.C)}}
}

func shapeFromDims(dims []int64) (batch.Shape, error) {
	if len(dims) != 4 {
		return batch.Shape{}, fmt.Errorf("shape %v has %d axes, want 4 [N,H,W,C]", dims, len(dims))
	}
	for _, d := range dims {
		if d <= 0 || d > math.MaxInt32 {
			return batch.Shape{}, fmt.Errorf("shape %v: every axis must be in [1, 2^31)", dims)
		}
	}
	s := batch.Shape{N: int(dims[0]), H: int(dims[1]), W: int(dims[2]), C: int(dims[3])}
	if int64(s.Size()) > MaxMessageBytes/4 {
		return batch.Shape{}, fmt.Errorf("shape %v is larger than one message allows (%d bytes)", dims, MaxMessageBytes)
	}
	return s, nil
}

func shapeFromProto(p *pb.Shape) (batch.Shape, error) {
	if p == nil {
		return batch.Shape{}, fmt.Errorf("missing shape")
	}
	return shapeFromDims(p.Dims)
}

// tensorToProto encodes b; nil stays nil.
func tensorToProto(b *batch.Batch) *pb.Tensor {
	if b == nil {
		return nil
	}
	return &pb.Tensor{Shape: shapeToProto(b.Shape).Dims, Data: EncodeFloats(b.Data)}
}

// tensorFromProto decodes t, checking that the bytes match the shape; what names the tensor
// in errors.
func tensorFromProto(t *pb.Tensor, what string) (*batch.Batch, error) {
	if t == nil {
		return nil, fmt.Errorf("%s: missing tensor", what)
	}
	s, err := shapeFromDims(t.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(t.Data) != 4*s.Size() {
		return nil, fmt.Errorf("%s: %d bytes for shape %s, want %d (float32 little-endian)", what, len(t.Data), s, 4*s.Size())
	}
	b := batch.New(s.N, s.H, s.W, s.C)
	DecodeFloats(b.Data, t.Data)
	return b, nil
}

func paramsToProto(p part.Params) *pb.Params {
	if len(p) == 0 {
		return nil
	}
	out := &pb.Params{Values: make(map[string]*pb.Tensor, len(p))}
	for k, v := range p {
		out.Values[k] = tensorToProto(v)
	}
	return out
}

func paramsFromProto(p *pb.Params) (part.Params, error) {
	if p == nil || len(p.Values) == 0 {
		return nil, nil
	}
	out := make(part.Params, len(p.Values))
	for k, v := range p.Values {
		b, err := tensorFromProto(v, "parameter "+k)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}
