// Command faulty is a deliberately broken FlowDiff plugin for the host's fault tests and for
// trying the host's error messages by hand. Its operator faulty.op (y = 2x, linear) misbehaves
// in Apply as its mode parameter says:
//
//	ok     behaves
//	crash  writes a line to stderr and exits with status 3 in the middle of the call
//	hang   never answers
//	shape  answers one pixel too wide
//	nan    answers NaN in the first pixel
//	panic  panics (the SDK recovers it into an error; the process serves on)
//	vjp    behaves in Apply; VJP returns an error (a run fails in training, after corruption)
//
// With record: true, the part appends "configure faulty.op" when it is built and "release
// faulty.op" when the host releases it to calls.log in the plugin's working folder (its own
// folder): the lifecycle tests count them.
//
// Flags (set as args in the manifest): -protocol N announces protocol version N instead of
// 1; -exit-at-start exits with status 2 before the handshake.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
	"github.com/flowdiff/flowdiff-go/plugins/sdk"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Config configures faulty.op.
type Config struct {
	Mode   string `yaml:"mode" default:"ok" check:"oneof=ok|crash|hang|shape|nan|panic|vjp" doc:"how Apply (or, for vjp, VJP) misbehaves"`
	Record bool   `yaml:"record" default:"false" doc:"append configure and release events to calls.log in the plugin's folder"`
	// VJPScale multiplies the VJP: 1 is exact; 1.001 is an adjoint 0.1% off, which the
	// conformance suite must catch out of process as in process.
	VJPScale float64 `yaml:"vjp_scale" default:"1" check:">0" doc:"factor on the VJP (1: exact; 1.001: a 0.1% error for conformance tests)"`
}

// CallsFile is the file, in the plugin's working folder, that record: true appends to.
const CallsFile = "calls.log"

// Op is faulty.op.
type Op struct {
	mode     string
	record   bool
	vjpScale float32
}

// newOp builds faulty.op, recording the event when asked.
func newOp(c *Config) (*Op, error) {
	o := &Op{mode: c.Mode, record: c.Record, vjpScale: float32(c.VJPScale)}
	return o, o.log("configure")
}

// Close implements io.Closer: the SDK calls it when the host releases the part.
func (o *Op) Close() error { return o.log("release") }

func (o *Op) log(event string) error {
	if !o.record {
		return nil
	}
	return record(event, "faulty.op")
}

// record appends "EVENT ID" to CallsFile.
func record(event, id string) error {
	f, err := os.OpenFile(CallsFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s\n", event, id)
	return errors.Join(err, f.Close())
}

func (o *Op) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) { return in, nil }
func (o *Op) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}
func (o *Op) IsLinear() bool { return true }

func (o *Op) Apply(_ context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	cwd, _ := os.Getwd()
	fmt.Fprintf(os.Stderr, "faulty: Apply on %s in mode %s (working folder %s)\n", x.Shape, o.mode, cwd)
	switch o.mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "faulty: simulated segmentation fault, exiting")
		os.Exit(3)
	case "hang":
		time.Sleep(time.Hour)
	case "shape":
		return batch.New(x.N, x.H, x.W+1, x.C), nil
	case "nan":
		y := scale(x)
		y.Data[0] = float32(math.NaN())
		return y, nil
	case "panic":
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}
	return scale(x), nil
}

func (o *Op) VJP(_ context.Context, _, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	if o.mode == "vjp" {
		return nil, errors.New("faulty: simulated VJP failure")
	}
	g := scale(v)
	for i := range g.Data {
		g.Data[i] *= o.vjpScale
	}
	return g, nil
}

func scale(x *batch.Batch) *batch.Batch {
	y := x.Clone()
	for i := range y.Data {
		y.Data[i] *= 2
	}
	return y
}

var entry = registry.Entry{
	ID: "faulty.op", Kind: registry.KindOperator, Linear: true, Summary: "y = 2x, misbehaving as mode says (for fault tests)",
	Config: func() any { return &Config{} },
	New:    func(_ context.Context, cfg any) (any, error) { return newOp(cfg.(*Config)) },
}

func main() {
	proto := flag.Int("protocol", protocol.ProtocolVersion, "protocol version to announce")
	exitAtStart := flag.Bool("exit-at-start", false, "exit with status 2 before the handshake")
	flag.Parse()
	if *exitAtStart {
		fmt.Fprintln(os.Stderr, "faulty: cannot open my model file, giving up")
		os.Exit(2)
	}
	srv, err := sdk.NewServer(sdk.Plugin{Name: "faulty", Version: "0.0.1", Parts: []registry.Entry{entry, priorEntry, metricEntry}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  protocol.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{*proto: {protocol.PluginName: &protocol.GRPCPlugin{Impl: srv}}},
		GRPCServer:       sdk.GRPCServer,
	})
}
