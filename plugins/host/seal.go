package host

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/flowdiff/flowdiff-go/plugins/protocol"
)

// Seal records in dir/plugin.yaml the sha256 of the command and of every listed file, then
// starts the plugin and records its protocol version and what it describes (IDs, kinds,
// summaries, parameters, examples). Run it after building a plugin and after every change;
// it is how a user states that they trust the binary in that folder.
func Seal(ctx context.Context, dir string, opts Options) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(abs)
	if err != nil {
		return nil, err
	}
	if m.SHA256, err = FileSHA256(filepath.Join(abs, m.Command)); err != nil {
		return nil, fmt.Errorf("plugin %s: command: %w", m.Name, err)
	}
	for i, f := range m.Files {
		if m.Files[i].SHA256, err = FileSHA256(filepath.Join(abs, f.Path)); err != nil {
			return nil, fmt.Errorf("plugin %s: files: %w", m.Name, err)
		}
	}
	m.Protocol = protocol.ProtocolVersion
	m.Provides = nil
	p := &Plugin{Dir: abs, Manifest: m, opts: opts, stderr: newRing(StderrLines)}
	defer p.Stop()
	d, err := p.Describe(ctx)
	if err != nil {
		return nil, err
	}
	if len(d.Parts) == 0 {
		return nil, fmt.Errorf("plugin %s provides no parts", m.Name)
	}
	m.Provides = partsFromDescription(d)
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("plugin %s describes itself wrongly: %w", m.Name, err)
	}
	if err := m.Write(abs); err != nil {
		return nil, err
	}
	return m, nil
}
