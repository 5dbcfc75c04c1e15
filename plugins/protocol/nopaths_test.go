package protocol

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flowdiff/flowdiff-go/plugins/internal/proto"
)

// TestProtocolCarriesNoPaths backs the promise that a plugin cannot be told, through the
// protocol, to read or write anywhere outside its own working folder (the host starts it
// there; TestFaults in plugins/host shows it): every RPC of version 1 and every text or byte
// field is listed here with what it holds, and none is a file name, a folder or a URL. A new
// RPC or field fails this test until it is reviewed and added.
func TestProtocolCarriesNoPaths(t *testing.T) {
	rpcs := []string{
		"Metric.Compute",
		"Noise.Moments", "Noise.NLL", "Noise.NLLGrad", "Noise.Sample",
		"Operator.Apply", "Operator.OutShape", "Operator.SampleParams", "Operator.VJP",
		"Plugin.Configure", "Plugin.Describe", "Plugin.Release",
		"Prior.Energy",
	}
	textFields := map[string]string{
		"Tensor.data":                  "float32 pixels",
		"Param.name":                   "a parameter's YAML key",
		"Param.type":                   "number, integer, string, bool or a list of those",
		"Param.default":                "a YAML scalar",
		"Param.check":                  "core/schema rules",
		"Param.doc":                    "one line of documentation",
		"Part.id":                      "a registry ID",
		"Part.kind":                    "operator, noise, prior or metric",
		"Part.summary":                 "one line for listings",
		"Part.example":                 "typical parameters as YAML",
		"DescribeResponse.name":        "the plugin's name",
		"DescribeResponse.version":     "the plugin's version",
		"ConfigureRequest.id":          "a registry ID",
		"ConfigureRequest.config_json": "the part's own declared parameters, as JSON",
		"Params.ValuesEntry.key":       "a per-sample parameter's name",
	}
	fd := pb.File_flowdiff_proto

	var gotRPCs []string
	for i := 0; i < fd.Services().Len(); i++ {
		s := fd.Services().Get(i)
		for j := 0; j < s.Methods().Len(); j++ {
			gotRPCs = append(gotRPCs, string(s.Name())+"."+string(s.Methods().Get(j).Name()))
		}
	}
	slices.Sort(gotRPCs)
	if strings.Join(gotRPCs, " ") != strings.Join(rpcs, " ") {
		t.Errorf("the protocol's RPCs are\n  %v\nthis test reviewed\n  %v", gotRPCs, rpcs)
	}

	seen := map[string]bool{}
	// Every message, nested ones (map entries among them) included.
	var walk func(prefix string, ms protoreflect.MessageDescriptors)
	walk = func(prefix string, ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			for j := 0; j < md.Fields().Len(); j++ {
				f := md.Fields().Get(j)
				name := prefix + string(md.Name()) + "." + string(f.Name())
				if k := f.Kind(); k != protoreflect.StringKind && k != protoreflect.BytesKind {
					continue
				}
				seen[name] = true
				if _, ok := textFields[name]; !ok {
					t.Errorf("field %s carries text or bytes and is not reviewed here (could it be a path?)", name)
				}
			}
			walk(prefix+string(md.Name())+".", md.Messages())
		}
	}
	walk("", fd.Messages())
	for name := range textFields {
		if !seen[name] {
			t.Errorf("reviewed field %s is not in the protocol any more: update this test", name)
		}
	}
}
