// Package protocol is what a FlowDiff plugin and its host share: go-plugin's handshake, the
// application protocol version (1), the plugin map for go-plugin's VersionedPlugins, the gRPC
// message limits, and hand-written Go request/response types in front of the generated
// protobuf code (plugins/proto), which stays internal to this package.
//
// Wire layout. A tensor is a batch of images [N,H,W,C] sent as its shape and 4·N·H·W·C bytes
// of float32 little-endian values, row-major (C fastest), exactly batch.Batch's layout. Random
// draws (operator parameters, noise samples) are seeded by the host with two 64-bit words that
// seed a PCG stream in the plugin, so a plugin part is deterministic given the host's stream.
// A part is configured once (Configure: registry ID and JSON parameters, which the plugin
// validates) and addressed by the returned handle afterwards. No call carries a file path.
//
// Message size. gRPC's default limit is 4 MiB per message; go-plugin raises it on the host's
// side only. Both sides here use MaxMessageBytes (ServerOptions for the plugin, DialOptions
// for the host), so a batch of 1024 images of 128x128 (64 MiB) travels in one message.
package protocol

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the application protocol version this build speaks; go-plugin
// negotiates it through VersionedPlugins.
const ProtocolVersion = 1

// PluginName is the single go-plugin plugin a FlowDiff plugin process serves.
const PluginName = "flowdiff"

// MaxMessageBytes bounds one gRPC message in both directions (1 GiB): a tensor plus its
// parameters must fit, so the largest batch is about 250 M float32 values.
const MaxMessageBytes = 1 << 30

// Handshake is go-plugin's handshake: the cookie tells a plugin binary started by hand that
// it is not meant to be run directly. ProtocolVersion here is only a fallback:
// VersionedPlugins carries the versions both sides support.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "FLOWDIFF_PLUGIN",
	MagicCookieValue: "a5c0ffee-flowdiff-plugin-v1",
}

// VersionedPlugins returns go-plugin's map from protocol version to plugin set: one plugin,
// PluginName, served by srv (nil on the host's side).
func VersionedPlugins(srv Server) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: srv}},
	}
}

// ServerOptions are the gRPC server options a plugin needs: the raised message limits and
// the interceptor that turns a panic in a handler into an Internal error.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(recoverUnary),
	}
}

// DialOptions are the host's gRPC dial options (go-plugin's ClientConfig.GRPCDialOptions).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}
