// Package sdk is what a plugin author imports to serve operators, noise models, priors and
// metrics written in Go from a separate binary. A part is declared exactly like a built-in,
// as a registry.Entry (ID, kind, summary, a Config struct with core/schema tags, New), and its
// New returns a value with the engine's interface of its kind: part.Operator (optionally
// part.LinearOperator), part.NoiseModel (optionally part.NoiseMoments),
// part.Prior or part.Metric. So a built-in can move to a plugin unchanged, and the same
// value can be tested in-process and out of process (plugins/sdk/sdktest).
//
//	func main() {
//		sdk.Serve(sdk.Plugin{Name: "micro", Version: "1.0.0", Parts: []registry.Entry{widefieldEntry}})
//	}
//
// The host sends each part's parameters as JSON (defaults already filled in from the
// declared tags); the plugin decodes them strictly with core/schema and validates them again,
// so a plugin's rules hold whoever calls it. Config fields must be of the types the protocol
// documents (float64, int, string, bool and slices of those); a nested struct is an error at
// start-up. A panic in a part is recovered at the RPC boundary and reported as an error; the
// process keeps serving. What a part writes to os.Stderr reaches the host, which quotes the
// last lines in its error messages when a call fails; stdout belongs to the protocol. When
// started by a host, Serve first writes one line to stderr, "plugin NAME VERSION: serving N
// part(s), pid PID, working folder DIR", so an error about a process that died without a word
// still says which process it was.
package sdk

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/flowdiff/flowdiff-go/plugins/protocol"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Plugin is a plugin binary's content.
type Plugin struct {
	Name    string // matches the manifest's name
	Version string // the plugin's own version, shown by `flowdiff plugins list`
	Parts   []registry.Entry
}

// Serve serves p over go-plugin's gRPC transport with FlowDiff's handshake and protocol
// version, and returns when the host closes the plugin. A plugin whose parts are malformed
// (unsupported parameter types, duplicate IDs) exits with status 1 and the reason on stderr.
func Serve(p Plugin) {
	srv, err := NewServer(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugin %s: %v\n", p.Name, err)
		os.Exit(1)
	}
	if os.Getenv(protocol.Handshake.MagicCookieKey) == protocol.Handshake.MagicCookieValue {
		wd, _ := os.Getwd()
		fmt.Fprintf(os.Stderr, "plugin %s %s: serving %d part(s), pid %d, working folder %s\n",
			p.Name, p.Version, len(p.Parts), os.Getpid(), wd)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  protocol.Handshake,
		VersionedPlugins: protocol.VersionedPlugins(srv),
		GRPCServer:       GRPCServer,
	})
}

// GRPCServer is go-plugin's ServeConfig.GRPCServer for FlowDiff plugins: the protocol's
// message limits and panic recovery, and os.Stderr given back to the process's real stderr.
// (go-plugin redirects os.Stderr into a pipe that it forwards over a gRPC stream; a line
// written just before a crash would be lost there, while the host reads the real stderr
// directly and quotes its last lines in errors.) Use it when calling plugin.Serve directly.
func GRPCServer(opts []grpc.ServerOption) *grpc.Server {
	realStderr := os.Stderr // still the real one: go-plugin swaps it after building the server
	var once sync.Once
	restore := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		once.Do(func() { os.Stderr = realStderr })
		return h(ctx, req)
	}
	opts = append(opts, protocol.ServerOptions()...)
	return grpc.NewServer(append(opts, grpc.ChainUnaryInterceptor(restore))...)
}
