package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/plugins/protocol"
	"github.com/flowdiff/flowdiff-go/registry"
)

// ManifestFile is the name of a plugin's manifest inside its folder.
const ManifestFile = "plugin.yaml"

// Manifest is a plugin's plugin.yaml. The author writes name, version, command (and args,
// files); `flowdiff plugins seal DIR` fills in the checksums and, from the plugin's own
// Describe, protocol and provides, so the registry learns the plugin's IDs, kinds and
// parameters without starting it.
type Manifest struct {
	Name     string   `yaml:"name"`               // lowercase, [a-z0-9_-]
	Version  string   `yaml:"version"`            // the plugin's version
	Protocol int      `yaml:"protocol"`           // plugin protocol version; this build speaks 1
	Command  string   `yaml:"command"`            // executable, relative to the plugin folder
	Args     []string `yaml:"args,omitempty"`     // arguments
	SHA256   string   `yaml:"sha256"`             // hex sha256 of the command
	Files    []File   `yaml:"files,omitempty"`    // other files the plugin reads (e.g. Python modules), checksummed too
	Timeout  string   `yaml:"timeout,omitempty"`  // per-call deadline as a Go duration ("30s"); default the host's
	Provides []Part   `yaml:"provides,omitempty"` // the parts, as the plugin describes them
}

// File is a checksummed file of a plugin.
type File struct {
	Path   string `yaml:"path"` // relative to the plugin folder
	SHA256 string `yaml:"sha256"`
}

// Part is one part a manifest provides: protocol.PartInfo in YAML.
type Part struct {
	ID             string  `yaml:"id"`
	Kind           string  `yaml:"kind"`
	Summary        string  `yaml:"summary,omitempty"`
	Linear         bool    `yaml:"linear,omitempty"`
	HasMoments     bool    `yaml:"has_moments,omitempty"`
	HigherIsBetter bool    `yaml:"higher_is_better,omitempty"`
	Example        string  `yaml:"example,omitempty"`
	Params         []Param `yaml:"params,omitempty"`
}

// Param is protocol.ParamDoc in YAML.
type Param struct {
	Name    string `yaml:"name"`
	Type    string `yaml:"type"`
	Default string `yaml:"default,omitempty"`
	Check   string `yaml:"check,omitempty"`
	Doc     string `yaml:"doc,omitempty"`
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ReadManifest reads and checks dir/plugin.yaml (strictly: unknown keys are errors).
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plugin manifest: %w", err)
	}
	m := &Manifest{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(m); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: invalid manifest: %w", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// check validates the fields an author writes; sealed fields are checked by Verify.
func (m *Manifest) check() error {
	var errs []error
	if !namePattern.MatchString(m.Name) {
		errs = append(errs, fmt.Errorf("name %q: use lowercase letters, digits, '-' and '_'", m.Name))
	}
	if m.Command == "" {
		errs = append(errs, fmt.Errorf("command is empty: name the plugin's executable, relative to its folder"))
	} else if filepath.IsAbs(m.Command) || strings.HasPrefix(filepath.Clean(m.Command), "..") {
		errs = append(errs, fmt.Errorf("command %q must be inside the plugin folder (a relative path)", m.Command))
	}
	if m.Protocol != 0 && m.Protocol != protocol.ProtocolVersion {
		errs = append(errs, fmt.Errorf("protocol %d: this flowdiff speaks plugin protocol %d; rebuild the plugin against it", m.Protocol, protocol.ProtocolVersion))
	}
	if m.Timeout != "" {
		if d, err := time.ParseDuration(m.Timeout); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("timeout %q: use a positive Go duration such as 30s", m.Timeout))
		}
	}
	seen := map[string]bool{}
	for i, p := range m.Provides {
		switch {
		case seen[p.ID]:
			errs = append(errs, fmt.Errorf("provides[%d]: ID %q listed twice", i, p.ID))
		case !slices.Contains([]registry.Kind{registry.KindOperator, registry.KindNoise, registry.KindPrior, registry.KindMetric}, registry.Kind(p.Kind)):
			errs = append(errs, fmt.Errorf("provides[%d] (%s): kind %q: use operator, noise, prior or metric", i, p.ID, p.Kind))
		}
		seen[p.ID] = true
		for _, q := range p.Params {
			if _, err := goType(q.Type); err != nil {
				errs = append(errs, fmt.Errorf("provides[%d] (%s): parameter %q: %w", i, p.ID, q.Name, err))
			}
		}
	}
	for _, f := range m.Files {
		if filepath.IsAbs(f.Path) || strings.HasPrefix(filepath.Clean(f.Path), "..") {
			errs = append(errs, fmt.Errorf("files: %q must be inside the plugin folder", f.Path))
		}
	}
	return errors.Join(errs...)
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ChecksumError is a file whose sha256 differs from the manifest's.
type ChecksumError struct {
	Plugin, Path     string
	Expected, Actual string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %s: checksum mismatch for %s: manifest expects sha256 %s, the file has %s; "+
		"if you built or trust this file, run `flowdiff plugins seal %s` to record its checksum",
		e.Plugin, e.Path, orNone(e.Expected), e.Actual, filepath.Dir(e.Path))
}

func orNone(s string) string {
	if s == "" {
		return "(none recorded)"
	}
	return s
}

// Verify checks the command and every listed file against their recorded sha256 and that
// the manifest was sealed (protocol and provides filled in).
func (m *Manifest) Verify(dir string) error {
	if err := m.VerifyFiles(dir); err != nil {
		return err
	}
	if m.Protocol == 0 || len(m.Provides) == 0 {
		return fmt.Errorf("plugin %s: manifest is not sealed (no protocol or provides): run `flowdiff plugins seal %s`", m.Name, dir)
	}
	return nil
}

// VerifyFiles checks the command and every listed file against their recorded sha256.
func (m *Manifest) VerifyFiles(dir string) error {
	cmd := filepath.Join(dir, m.Command)
	st, err := os.Stat(cmd)
	if err != nil {
		return fmt.Errorf("plugin %s: command %s is missing: build the plugin (for the examples: make plugins)", m.Name, cmd)
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("plugin %s: command %s is not executable (chmod +x it)", m.Name, cmd)
	}
	check := func(path, want string) error {
		got, err := FileSHA256(path)
		if err != nil {
			return fmt.Errorf("plugin %s: %w", m.Name, err)
		}
		if !strings.EqualFold(got, want) {
			return &ChecksumError{Plugin: m.Name, Path: path, Expected: want, Actual: got}
		}
		return nil
	}
	if err := check(cmd, m.SHA256); err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := check(filepath.Join(dir, f.Path), f.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// Write writes m to dir/plugin.yaml atomically.
func (m *Manifest) Write(dir string) error {
	var b bytes.Buffer
	b.WriteString("# FlowDiff plugin manifest. name, version, command, args and files are written by the author;\n" +
		"# `flowdiff plugins seal` fills in sha256, protocol and provides.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	enc.Close()
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFile), b.Bytes(), 0o644)
}

// partsFromDescription converts a plugin's Describe answer into manifest parts.
func partsFromDescription(d protocol.Description) []Part {
	var out []Part
	for _, p := range d.Parts {
		q := Part{ID: p.ID, Kind: p.Kind, Summary: p.Summary, Linear: p.Linear, HasMoments: p.HasMoments,
			HigherIsBetter: p.HigherIsBetter, Example: p.Example}
		for _, d := range p.Params {
			q.Params = append(q.Params, Param(d))
		}
		out = append(out, q)
	}
	return out
}
