package pipelines

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/noiseest"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// AutoValue is the value that leaves a corruption noise parameter to be estimated from the
// observations (docs/noise-estimation.md).
const AutoValue = "auto"

// autoKeys lists, per noise model, the parameters a pipeline may write as auto.
var autoKeys = map[string][]string{
	"noise.gaussian":         {"sigma"},
	"noise.poisson_gaussian": {"gain", "sigma"},
}

// autoHelp is the message for auto anywhere else.
const autoHelp = "auto is accepted only for noise.gaussian's sigma and noise.poisson_gaussian's gain and sigma (estimated from the observations); write a number"

// Estimate records a corruption noise parameter that a pipeline wrote as auto and a run
// estimated from the observations.
type Estimate struct {
	Field  string  `yaml:"field" check:"nonempty" doc:"the parameter, as corruption[i].name"`
	Value  float64 `yaml:"value" doc:"the estimate, also written into that parameter (the data's units: [0,1] intensity)"`
	StdErr float64 `yaml:"stderr" doc:"its block-bootstrap standard error"`
	Method string  `yaml:"method" doc:"the estimator (core/noiseest)"`
	Images int     `yaml:"images" doc:"number of training observations (images x channels) it was estimated from"`
	Note   string  `yaml:"note,omitempty" doc:"what makes the estimate less trustworthy than usual, if anything"`
}

// autoParam is one corruption parameter written auto and not yet estimated.
type autoParam struct {
	item int
	key  string
	line int
}

func (a autoParam) path() string { return fmt.Sprintf("corruption[%d].%s", a.item, a.key) }

// unmarshal decodes data into p like schema.Unmarshal, accepting auto for the parameters of
// autoKeys: they are recorded in p.auto and hold NaN until Resolve sets them, so that a noise
// model built before then fails loudly.
func (p *Pipeline) unmarshal(data []byte) schema.Errors {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return schema.Unmarshal(data, p) // reports the syntax error or the empty document
	}
	root := doc.Content[0]
	auto, misplaced := takeAuto(root)
	if est := mappingValue(root, "estimated"); est != nil && est.Kind == yaml.SequenceNode {
		for _, item := range est.Content {
			p.estimatedLines = append(p.estimatedLines, item.Line)
		}
	}
	errs := schema.Decode(root, p, "")
	for _, e := range errs {
		for _, m := range misplaced {
			if e.Path == m.path() {
				e.Msg = autoHelp
			}
		}
	}
	for _, a := range auto {
		if a.item < len(p.Corruption) && p.Corruption[a.item].Config != nil {
			setParam(p.Corruption[a.item].Config, a.key, math.NaN())
			p.auto = append(p.auto, a)
		}
	}
	return errs
}

// takeAuto finds the corruption parameters written auto. Those autoKeys allows are replaced
// by a placeholder number, so that strict decoding accepts them; the others are left for
// decoding to reject and returned so the message can say where auto is allowed.
func takeAuto(root *yaml.Node) (auto, misplaced []autoParam) {
	corr := mappingValue(root, "corruption")
	if corr == nil || corr.Kind != yaml.SequenceNode {
		return nil, nil
	}
	for i, item := range corr.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		op := ""
		if v := mappingValue(item, registry.SpecKey); v != nil {
			op = v.Value
		}
		for k := 0; k+1 < len(item.Content); k += 2 {
			key, val := item.Content[k].Value, item.Content[k+1]
			if val.Kind != yaml.ScalarNode || val.Value != AutoValue {
				continue
			}
			a := autoParam{item: i, key: key, line: item.Content[k].Line}
			if slices.Contains(autoKeys[op], key) {
				val.Value, val.Tag, val.Style = "1", "!!float", 0
				auto = append(auto, a)
			} else {
				misplaced = append(misplaced, a)
			}
		}
	}
	return auto, misplaced
}

// mappingValue returns the value of key in mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return m.Content[k+1]
		}
	}
	return nil
}

// setParam sets the float64 field whose yaml key is key in the config struct cfg points to.
// A missing or non-float field is a programmer error (autoKeys names a field that is not
// there) and panics.
func setParam(cfg any, key string, v float64) {
	f := paramField(cfg, key)
	f.SetFloat(v)
}

// getParam returns the float64 field whose yaml key is key.
func getParam(cfg any, key string) float64 { return paramField(cfg, key).Float() }

func paramField(cfg any, key string) reflect.Value {
	s := reflect.ValueOf(cfg).Elem()
	for i := range s.NumField() {
		name, _, _ := strings.Cut(s.Type().Field(i).Tag.Get("yaml"), ",")
		if name == key && s.Field(i).Kind() == reflect.Float64 {
			return s.Field(i)
		}
	}
	panic(fmt.Sprintf("pipelines: %T has no float64 field with yaml key %q", cfg, key))
}

// checkAuto validates the auto parameters and the estimated section against the corruption
// list: auto needs a data section to estimate from, and each estimate must name an auto-able
// parameter that holds its value.
func (p *Pipeline) checkAuto() schema.Errors {
	var errs schema.Errors
	if p.Data == nil {
		for _, a := range p.auto {
			errs = append(errs, &schema.FieldError{Path: a.path(), Line: a.line,
				Msg: "auto is estimated from the observations: add a data section that loads them"})
		}
	}
	for i, e := range p.Estimated {
		path, line := fmt.Sprintf("estimated[%d].field", i), 0
		if i < len(p.estimatedLines) {
			line = p.estimatedLines[i]
		}
		item, key, ok := parseParamPath(e.Field)
		if !ok || item >= len(p.Corruption) || !slices.Contains(autoKeys[p.Corruption[item].ID], key) {
			errs = append(errs, &schema.FieldError{Path: path, Line: line,
				Msg: fmt.Sprintf("%q is not an estimable noise parameter of this corruption list (%s)", e.Field, autoHelp)})
			continue
		}
		if got := getParam(p.Corruption[item].Config, key); got != e.Value {
			errs = append(errs, &schema.FieldError{Path: path, Line: line,
				Msg: fmt.Sprintf("%s is %v but estimated says %v: they must agree (the estimated section is written by a run)", e.Field, got, e.Value)})
		}
	}
	return errs
}

// parseParamPath splits "corruption[i].key".
func parseParamPath(s string) (item int, key string, ok bool) {
	if _, err := fmt.Sscanf(s, "corruption[%d].", &item); err != nil {
		return 0, "", false
	}
	_, key, ok = strings.Cut(s, "].")
	return item, key, ok && key != ""
}

// observed reports whether the pipeline's data are observations that already carry the
// corruption's noise: some noise parameter is auto or was estimated.
func (p *Pipeline) observed() bool { return len(p.auto) > 0 || len(p.Estimated) > 0 }

// resolvedValue is what Resolved writes for the pipeline: p itself, or, while some noise
// parameter is still auto, its YAML tree with those parameters written auto again.
func (p *Pipeline) resolvedValue() (any, error) {
	if len(p.auto) == 0 {
		return p, nil
	}
	var n yaml.Node
	if err := n.Encode(p); err != nil {
		return nil, fmt.Errorf("encode resolved pipeline: %w", err)
	}
	corr := mappingValue(&n, "corruption")
	for _, a := range p.auto {
		if v := mappingValue(corr.Content[a.item], a.key); v != nil {
			v.Value, v.Tag, v.Style = AutoValue, "!!str", 0
		}
	}
	return &n, nil
}

// Resolve estimates the corruption noise parameters that p writes as auto from the
// observations obs ([N, H, W, C], in the data's units, as the data stage loads them) with
// core/noiseest's default estimators, and writes each into the noise model's config and into
// p.Estimated; a parameter given as a number is held fixed in the fit. It returns the new
// estimates (none when nothing is auto). An estimate of 0, which the noise models reject,
// is an error that says to write a number instead.
func Resolve(p *Pipeline, obs *batch.Batch) ([]Estimate, error) {
	if len(p.auto) == 0 {
		return nil, nil
	}
	spec := &p.Corruption[p.auto[0].item] // one noise model, last: every auto is in it
	isAuto := func(key string) bool {
		return slices.ContainsFunc(p.auto, func(a autoParam) bool { return a.key == key })
	}
	field := func(key string) string { return fmt.Sprintf("%s.%s", spec.Path, key) }
	if spec.Path == "" {
		field = func(key string) string { return autoParam{item: p.auto[0].item, key: key}.path() }
	}
	var ests []Estimate
	switch spec.ID {
	case "noise.gaussian":
		e, err := noiseest.EstimateGaussianBatch(obs, noiseest.GaussianOptions{})
		if err != nil {
			return nil, fmt.Errorf("estimate %s: %w", field("sigma"), err)
		}
		ests = append(ests, Estimate{Field: field("sigma"), Value: e.Sigma, StdErr: e.StdErr, Method: string(e.Method), Images: e.Images, Note: e.Note})
	case "noise.poisson_gaussian":
		opts := noiseest.PGOptions{Offset: getParam(spec.Config, "offset")}
		if !isAuto("gain") {
			g := getParam(spec.Config, "gain")
			opts.FixA = &g
		}
		if !isAuto("sigma") {
			s := getParam(spec.Config, "sigma")
			b := s * s
			opts.FixB = &b
		}
		e, err := noiseest.EstimatePoissonGaussianBatch(obs, opts)
		if err != nil {
			return nil, fmt.Errorf("estimate %s: %w", spec.ID, err)
		}
		method := "poisson-gaussian block fit (core/noiseest)"
		if isAuto("gain") {
			ests = append(ests, Estimate{Field: field("gain"), Value: e.A, StdErr: e.StdErrA, Method: method, Images: e.Images, Note: e.Note})
		}
		if isAuto("sigma") {
			s := e.Sigma()
			se := e.StdErrB / (2 * s) // delta method: d√b = db / (2√b)
			if !(s > 0) {
				se = math.Sqrt(e.StdErrB)
			}
			ests = append(ests, Estimate{Field: field("sigma"), Value: s, StdErr: se, Method: method, Images: e.Images, Note: e.Note})
		}
	default:
		return nil, fmt.Errorf("%s: auto is not supported for %s", p.auto[0].path(), spec.ID)
	}
	for _, e := range ests {
		if !(e.Value > 0) {
			return nil, fmt.Errorf("%s estimated %.3g ± %.2g from %d observations: the noise model needs a value > 0; write a number instead of auto (for instance the standard error)",
				e.Field, e.Value, e.StdErr, e.Images)
		}
	}
	for _, a := range p.auto {
		for _, e := range ests {
			if e.Field == field(a.key) {
				setParam(spec.Config, a.key, e.Value)
			}
		}
	}
	p.Estimated = append(p.Estimated, ests...)
	p.auto = nil
	return ests, nil
}
