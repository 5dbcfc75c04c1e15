package protocol

import (
	"math"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	pb "github.com/flowdiff/flowdiff-go/plugins/internal/proto"
)

func TestTensorRoundTrip(t *testing.T) {
	b := batch.New(2, 3, 4, 2)
	for i := range b.Data {
		b.Data[i] = float32(i) * 0.25
	}
	b.Data[5] = float32(math.Inf(-1))
	p := tensorToProto(b)
	// Little-endian float32 on the wire: 0.25 is 0x3e800000.
	if got := p.Data[4:8]; got[0] != 0 || got[1] != 0 || got[2] != 0x80 || got[3] != 0x3e {
		t.Errorf("bytes of 0.25: % x", got)
	}
	back, err := tensorFromProto(p, "x")
	if err != nil {
		t.Fatal(err)
	}
	if back.Shape != b.Shape {
		t.Fatalf("shape %s", back.Shape)
	}
	for i := range b.Data {
		if math.Float32bits(back.Data[i]) != math.Float32bits(b.Data[i]) {
			t.Fatalf("value %d: %g, want %g", i, back.Data[i], b.Data[i])
		}
	}
}

func TestTensorRejects(t *testing.T) {
	cases := []struct {
		t    *pb.Tensor
		want string
	}{
		{nil, "missing tensor"},
		{&pb.Tensor{Shape: []int64{1, 2, 2}, Data: make([]byte, 16)}, "3 axes"},
		{&pb.Tensor{Shape: []int64{1, 2, 2, 1}, Data: make([]byte, 15)}, "15 bytes for shape [1,2,2,1], want 16"},
		{&pb.Tensor{Shape: []int64{1, 0, 2, 1}}, "every axis"},
		{&pb.Tensor{Shape: []int64{1 << 20, 1 << 10, 1 << 10, 1}}, "larger than one message"},
	}
	for _, c := range cases {
		_, err := tensorFromProto(c.t, "x")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.t, err, c.want)
		}
	}
}
