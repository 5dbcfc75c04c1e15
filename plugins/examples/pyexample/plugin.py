#!/usr/bin/python3
"""pyexample: a FlowDiff plugin written in Python, to show that a plugin need not be Go.

It needs only Debian's python3-grpcio and python3-protobuf (no numpy) and serves three parts:

  pyexample.tv      prior   smoothed isotropic total variation,
                            E(x) = weight * sum_{pixels, channels} sqrt(dy^2 + dx^2 + eps^2),
                            forward differences, zero beyond the last row/column (Rudin,
                            Osher & Fatemi 1992, smoothed as in Vogel & Oman 1996)
  pyexample.mae     metric  mean absolute error per image (lower is better)
  pyexample.border  operator  zeroes a border of `width` pixels (a mask: linear, self-adjoint)

Protocol (see docs/plugins.md): go-plugin's handshake on stdout
("1|1|tcp|127.0.0.1:PORT|grpc"), the gRPC health service reporting "plugin" as SERVING, and
the services of plugins/internal/proto/flowdiff.proto. Tensors are float32 little-endian [N,H,W,C].
"""
import array
import json
import math
import os
import sys
import threading
import traceback
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import flowdiff_pb2 as pb  # noqa: E402
import flowdiff_pb2_grpc as pbg  # noqa: E402

PROTOCOL_VERSION = 1
COOKIE_KEY = "FLOWDIFF_PLUGIN"
COOKIE_VALUE = "a5c0ffee-flowdiff-plugin-v1"
MAX_MESSAGE = 1 << 30


class UserError(Exception):
    """A bad request: reported to the host as INVALID_ARGUMENT."""


def decode(t):
    """Returns (shape [n,h,w,c], array of float32) of a Tensor."""
    if len(t.shape) != 4:
        raise UserError("tensor shape %s: want 4 axes" % list(t.shape))
    a = array.array("f")
    a.frombytes(t.data)
    if sys.byteorder == "big":
        a.byteswap()
    n, h, w, c = t.shape
    if len(a) != n * h * w * c:
        raise UserError("tensor of shape %s has %d values" % (list(t.shape), len(a)))
    return list(t.shape), a


def encode(shape, a):
    a = array.array("f", a)
    if sys.byteorder == "big":
        a.byteswap()
    return pb.Tensor(shape=shape, data=a.tobytes())


def param(name, type_, default, check, doc):
    return pb.Param(name=name, type=type_, default=default, check=check, doc=doc)


PARTS = {
    "pyexample.tv": dict(kind="prior", summary="smoothed total-variation prior (Python plugin)",
                         params=[param("weight", "number", "1", ">0", "weight of the energy"),
                                 param("eps", "number", "0.01", ">0", "smoothing of |grad x|, intensity units")]),
    "pyexample.mae": dict(kind="metric", summary="mean absolute error per image (Python plugin)", params=[]),
    "pyexample.border": dict(kind="operator", summary="zeroes a border of width pixels (Python plugin)", linear=True,
                             params=[param("width", "integer", "2", ">=0", "border width, pixels")]),
}


def configure(part_id, config):
    """Validates the JSON parameters of a part and returns its settings."""
    spec = PARTS[part_id]
    known = {p.name: p for p in spec["params"]}
    for k in config:
        if k not in known:
            raise UserError("%s: unknown parameter %r (known: %s)" % (part_id, k, ", ".join(known) or "none"))
    out = {}
    for name, p in known.items():
        v = config.get(name, json.loads(p.default))
        if p.type == "number" and not isinstance(v, (int, float)) or p.type == "integer" and not isinstance(v, int):
            raise UserError("%s: %s must be a %s, got %r" % (part_id, name, p.type, v))
        if p.check == ">0" and not v > 0 or p.check == ">=0" and not v >= 0:
            raise UserError("%s: %s = %r breaks the rule %s" % (part_id, name, v, p.check))
        out[name] = v
    return out


def tv(settings, shape, x):
    n, h, w, c = shape
    weight, eps2 = settings["weight"], settings["eps"] ** 2
    energy = [0.0] * n
    grad = [0.0] * len(x)
    for s in range(n):
        base = s * h * w * c
        e = 0.0
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    k = base + (i * w + j) * c + ch
                    v = x[k]
                    dy = x[k + w * c] - v if i + 1 < h else 0.0
                    dx = x[k + c] - v if j + 1 < w else 0.0
                    m = math.sqrt(dy * dy + dx * dx + eps2)
                    e += m
                    grad[k] -= weight * (dy + dx) / m
                    if i + 1 < h:
                        grad[k + w * c] += weight * dy / m
                    if j + 1 < w:
                        grad[k + c] += weight * dx / m
        energy[s] = weight * e
    return energy, grad


def border(settings, shape, x):
    n, h, w, c = shape
    b = settings["width"]
    y = array.array("f", x)
    for s in range(n):
        for i in range(h):
            for j in range(w):
                if i < b or j < b or i >= h - b or j >= w - b:
                    k = ((s * h + i) * w + j) * c
                    for ch in range(c):
                        y[k + ch] = 0.0
    return y


class Server(pbg.PluginServicer, pbg.OperatorServicer, pbg.PriorServicer, pbg.MetricServicer):
    def __init__(self):
        self.parts = {}
        self.next = 0
        self.lock = threading.Lock()

    def part(self, handle, kind):
        with self.lock:
            got = self.parts.get(handle)
        if got is None:
            raise UserError("unknown handle %d: configure the part first" % handle)
        if PARTS[got[0]]["kind"] != kind:
            raise UserError("handle %d is %s, not a %s" % (handle, got[0], kind))
        return got

    def Describe(self, request, context):
        parts = [pb.Part(id=i, kind=p["kind"], summary=p["summary"], linear=p.get("linear", False),
                         params=p["params"], higher_is_better=False) for i, p in sorted(PARTS.items())]
        return pb.DescribeResponse(name="pyexample", version="1.0.0", parts=parts)

    def Configure(self, request, context):
        if request.id not in PARTS:
            raise UserError("this plugin provides no part %r (it provides %s)" % (request.id, ", ".join(sorted(PARTS))))
        try:
            config = json.loads(request.config_json or "{}")
        except ValueError as e:
            raise UserError("%s: parameters are not valid JSON: %s" % (request.id, e))
        settings = configure(request.id, config or {})
        with self.lock:
            self.next += 1
            self.parts[self.next] = (request.id, settings)
            return pb.ConfigureResponse(handle=self.next)

    def Release(self, request, context):
        with self.lock:
            self.parts.pop(request.handle, None)
        return pb.ReleaseResponse()

    def OutShape(self, request, context):
        self.part(request.handle, "operator")
        return pb.OutShapeResponse(out=getattr(request, "in"))

    def SampleParams(self, request, context):
        self.part(request.handle, "operator")
        return pb.SampleParamsResponse()

    def Apply(self, request, context):
        _, settings = self.part(request.handle, "operator")
        shape, x = decode(request.x)
        return pb.ApplyResponse(y=encode(shape, border(settings, shape, x)))

    def VJP(self, request, context):
        _, settings = self.part(request.handle, "operator")
        shape, v = decode(request.v)
        return pb.VJPResponse(g=encode(shape, border(settings, shape, v)))

    def Energy(self, request, context):
        _, settings = self.part(request.handle, "prior")
        shape, x = decode(request.x)
        energy, grad = tv(settings, shape, x)
        return pb.EnergyResponse(energy=energy, grad=encode(shape, grad))

    def Compute(self, request, context):
        self.part(request.handle, "metric")
        shape, ref = decode(request.ref)
        shape2, img = decode(request.img)
        if shape != shape2:
            raise UserError("reference %s and image %s differ in shape" % (shape, shape2))
        size = shape[1] * shape[2] * shape[3]
        return pb.ComputeResponse(values=[sum(abs(ref[k] - img[k]) for k in range(s * size, (s + 1) * size)) / size
                                          for s in range(shape[0])])


def guarded(method):
    """Turns exceptions into gRPC errors: UserError -> INVALID_ARGUMENT, others -> INTERNAL."""
    def call(self, request, context):
        try:
            return method(self, request, context)
        except UserError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except Exception as e:  # noqa: BLE001 - the RPC boundary
            traceback.print_exc(file=sys.stderr)
            context.abort(grpc.StatusCode.INTERNAL, "%s: %s" % (type(e).__name__, e))
    return call


for _name in ["Describe", "Configure", "Release", "OutShape", "SampleParams", "Apply", "VJP", "Energy", "Compute"]:
    setattr(Server, _name, guarded(getattr(Server, _name)))


def main():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        print("This is a FlowDiff plugin: put its folder in a plugins folder; flowdiff starts it.", file=sys.stderr)
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(PROTOCOL_VERSION)).split(",")
    if str(PROTOCOL_VERSION) not in versions:
        print("host speaks protocol versions %s; this plugin speaks %d" % (versions, PROTOCOL_VERSION), file=sys.stderr)
        return 1
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                  ("grpc.max_send_message_length", MAX_MESSAGE)])
    impl = Server()
    pbg.add_PluginServicer_to_server(impl, server)
    pbg.add_OperatorServicer_to_server(impl, server)
    pbg.add_PriorServicer_to_server(impl, server)
    pbg.add_MetricServicer_to_server(impl, server)
    # grpc.health.v1.Health/Check answers SERVING (HealthCheckResponse{status: 1} = bytes 08 01):
    # go-plugin pings it.
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(lambda req, ctx: b"\x08\x01")})
    done = threading.Event()

    def shutdown(req, ctx):
        done.set()
        return b""
    controller = grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": grpc.unary_unary_rpc_method_handler(shutdown)})
    server.add_generic_rpc_handlers((health, controller))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # Like the Go SDK: one line on stderr, which the host quotes if this process dies later.
    print("plugin pyexample 1.0.0: serving %d part(s), pid %d, working folder %s" % (len(PARTS), os.getpid(), os.getcwd()),
          file=sys.stderr, flush=True)
    print("1|%d|tcp|127.0.0.1:%d|grpc" % (PROTOCOL_VERSION, port), flush=True)
    done.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
