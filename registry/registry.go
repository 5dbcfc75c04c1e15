// Package registry maps namespaced IDs ("noise.gaussian", "blur.gaussian", "metric.ssim") to
// factories for the parts a pipeline names: forward operators, noise models, priors and
// metrics. Built-ins register at start-up from their packages' init functions (a duplicate ID
// panics: it is a programmer error); plugins join at run time through Add, which returns an
// error instead. A pipeline names a part the same way wherever it lives.
//
// The registry knows nothing of what a part does: New returns the component as `any` and the
// package that defines the kind's interface (core/operators, core/metrics, ...) asserts it.
// That keeps this package at the bottom of the import graph, importable by plugins and CLI
// alike.
package registry

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// Kind is the family of a registered part.
type Kind string

// The kinds a pipeline can name.
const (
	KindOperator Kind = "operator" // a forward operator A
	KindNoise    Kind = "noise"    // a noise model N
	KindPrior    Kind = "prior"    // a prior on clean images
	KindMetric   Kind = "metric"   // an image-quality metric
)

// BuiltIn is the Origin of parts compiled into the engine.
const BuiltIn = "built-in"

// Namespaces reserved for built-in kinds: an ID in one of them must be of that kind
// (blur.gaussian is an operator, noise.poisson a noise model). Other namespaces are free; a
// plugin's parts use its name (micro.widefield, micro.poisson_gaussian).
var Namespaces = map[string]Kind{
	"blur":   KindOperator,
	"mask":   KindOperator,
	"op":     KindOperator, // operators that are neither blurs nor masks: op.compose, op.downsample
	"noise":  KindNoise,
	"prior":  KindPrior,
	"metric": KindMetric,
}

// Namespace returns the first word of a namespaced ID ("blur" for "blur.gaussian").
func Namespace(id string) string {
	ns, _, _ := strings.Cut(id, ".")
	return ns
}

// Entry describes one registered part.
type Entry struct {
	ID      string // namespaced ID, lowercase: [a-z0-9_]+(\.[a-z0-9_]+)+
	Kind    Kind
	Summary string // one line for listings
	Linear  bool   // operators: A(ax+by) = aA(x)+bA(y)
	Origin  string // BuiltIn, or the plugin's path
	// Config returns a pointer to a new config struct whose fields carry yaml, default, check
	// and doc tags (see core/schema). A part without parameters may leave it nil.
	Config func() any
	// Example is a YAML mapping of parameters that shows typical use; `flowdiff ops describe`
	// prints it, and conformance checks use it when the defaults alone are incomplete (a
	// compose needs its ops). "" when the defaults suffice.
	Example string
	// Deprecated lists former IDs of the part, still accepted in pipelines for one version:
	// a pipeline that names one is decoded as the new ID and a warning says so.
	Deprecated []string
	// New builds the part from a config that Config returned and the schema decoded.
	New func(ctx context.Context, cfg any) (any, error)
}

var idPattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)

// Registry is a set of entries, safe for concurrent use. Most code uses the process-wide
// Default through the package functions.
type Registry struct {
	mu      sync.RWMutex
	entries map[string]Entry
	aliases map[string]string // deprecated ID -> current ID
}

// New returns an empty registry.
func New() *Registry { return &Registry{entries: map[string]Entry{}, aliases: map[string]string{}} }

// Default is the process-wide registry that built-ins fill at init.
var Default = New()

// Add registers e, returning an error for an invalid or duplicate ID.
func (r *Registry) Add(e Entry) error {
	if !idPattern.MatchString(e.ID) {
		return fmt.Errorf("invalid ID %q: use lowercase namespaced words such as \"blur.gaussian\"", e.ID)
	}
	switch e.Kind {
	case KindOperator, KindNoise, KindPrior, KindMetric:
	default:
		return fmt.Errorf("%s: unknown kind %q", e.ID, e.Kind)
	}
	if k, reserved := Namespaces[Namespace(e.ID)]; reserved && k != e.Kind {
		return fmt.Errorf("%s is a %s, but the namespace %q is for %ss: choose another namespace (a plugin uses its own name)",
			e.ID, e.Kind, Namespace(e.ID), k)
	}
	if e.New == nil {
		return fmt.Errorf("%s: entry has no factory", e.ID)
	}
	if e.Origin == "" {
		e.Origin = BuiltIn
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, dup := r.entries[e.ID]; dup {
		return fmt.Errorf("ID %q is registered twice: by %s and by %s", e.ID, old.Origin, e.Origin)
	}
	if cur, dup := r.aliases[e.ID]; dup {
		return fmt.Errorf("ID %q is the deprecated name of %s", e.ID, cur)
	}
	for _, old := range e.Deprecated {
		if _, dup := r.entries[old]; dup {
			return fmt.Errorf("%s: deprecated ID %q is registered as a part", e.ID, old)
		}
		if cur, dup := r.aliases[old]; dup {
			return fmt.Errorf("%s: deprecated ID %q already names %s", e.ID, old, cur)
		}
	}
	r.entries[e.ID] = e
	for _, old := range e.Deprecated {
		r.aliases[old] = e.ID
	}
	return nil
}

// Current returns the current ID for a deprecated one and true, or id and false.
func (r *Registry) Current(id string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	cur, ok := r.aliases[id]
	if !ok {
		return id, false
	}
	return cur, true
}

// Remove deletes an entry (used when a plugin is unloaded); it reports whether it existed.
func (r *Registry) Remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	delete(r.entries, id)
	for _, old := range e.Deprecated {
		delete(r.aliases, old)
	}
	return ok
}

// Lookup returns the entry for id; a deprecated ID finds its part (Current says which). An
// unknown ID gives an error naming close matches.
func (r *Registry) Lookup(id string) (Entry, error) {
	id, _ = r.Current(id)
	r.mu.RLock()
	e, ok := r.entries[id]
	r.mu.RUnlock()
	if ok {
		return e, nil
	}
	msg := fmt.Sprintf("unknown ID %q", id)
	if c := schema.Closest(id, r.IDs("")); len(c) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", quoteJoin(c))
	}
	return Entry{}, fmt.Errorf("%s (`flowdiff ops list` shows every ID)", msg)
}

// LookupKind is Lookup that also requires the entry to be one of kinds.
func (r *Registry) LookupKind(id string, kinds ...Kind) (Entry, error) {
	e, err := r.Lookup(id)
	if err != nil {
		return e, err
	}
	if !slices.Contains(kinds, e.Kind) {
		return Entry{}, fmt.Errorf("%q is a %s, but a %s is expected here", id, e.Kind, joinKinds(kinds))
	}
	return e, nil
}

// List returns the entries of kind (all kinds when kind is ""), sorted by ID.
func (r *Registry) List(kind Kind) []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Entry
	for _, e := range r.entries {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IDs returns the sorted IDs of kind ("" for all).
func (r *Registry) IDs(kind Kind) []string {
	var ids []string
	for _, e := range r.List(kind) {
		ids = append(ids, e.ID)
	}
	return ids
}

// Register adds a built-in to Default and panics on a duplicate or invalid entry; call it
// from init.
func Register(e Entry) {
	e.Origin = BuiltIn
	if err := Default.Add(e); err != nil {
		panic("registry: " + err.Error())
	}
}

// Lookup finds id in Default.
func Lookup(id string) (Entry, error) { return Default.Lookup(id) }

// List lists Default's entries of kind.
func List(kind Kind) []Entry { return Default.List(kind) }

func quoteJoin(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, " or ")
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}
