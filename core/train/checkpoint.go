package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Checkpoint files. A checkpoint is a folder checkpoints/step-NNNNNNN/ holding
//
//	variables.bin          every context variable (float32, float64 or int64), little-endian,
//	                       concatenated in index order
//	index.json             {version, step, state, variables: [{name, dtype, shape, offset}]} (offset in bytes)
//	variables.bin.sha256,  the files' SHA-256 (sha256sum format, core/atomicfile), checked on
//	index.json.sha256      load: a checkpoint changed on disk is never trusted
//
// written into a temporary folder and renamed into place, then checkpoints/latest (the folder
// name) is replaced atomically. A crash leaves either the previous checkpoint or the new one;
// a failed write (a full disk) removes the partial folder and leaves the previous one latest.
// NNNNNNN is the number of steps finished in the checkpoint's phase (see State.Step), so a
// checkpoint of step k holds the models after the k-th step, whose row in losses.csv has
// step k.
//
// LoadLatest reads the newest checkpoint that verifies: the one latest names, else the others
// newest first, with a warning for each damaged one it skips.
const (
	checkpointDir    = "checkpoints"
	latestFile       = "latest"
	checkpointFormat = 2 // 1: without checksum files (read, unverified, with a warning)
	// keepCheckpoints is how many recent checkpoints stay on disk.
	keepCheckpoints = 2
)

type varEntry struct {
	Name   string `json:"name"` // scope and name, e.g. "/flow/level0/w"
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"` // in bytes
}

// checkpointDTypes are the variable dtypes a checkpoint holds (weights, counters, the
// context's RNG state).
var checkpointDTypes = map[dtypes.DType]bool{dtypes.Float32: true, dtypes.Float64: true, dtypes.Int64: true,
	dtypes.Int32: true, dtypes.Uint64: true}

type checkpointIndex struct {
	Version   int             `json:"version"`
	Step      int             `json:"step"`
	State     json.RawMessage `json:"state"` // the trainer's own state (phase, rates, ...)
	Variables []varEntry      `json:"variables"`
}

// SaveCheckpoint writes every variable of ctx and the trainer state into dir/checkpoints as
// the checkpoint of step. On failure nothing of it is left, and the error says which
// checkpoint is kept.
func SaveCheckpoint(dir string, ctx *context.Context, step int, state any) error {
	root := filepath.Join(dir, checkpointDir)
	name := fmt.Sprintf("step-%07d", step)
	tmp := filepath.Join(root, ".tmp-"+name)
	if err := writeCheckpoint(root, tmp, name, ctx, step, state); err != nil {
		os.RemoveAll(tmp)
		kept := "no earlier checkpoint exists"
		if prev, perr := os.ReadFile(filepath.Join(root, latestFile)); perr == nil {
			kept = "the previous checkpoint " + strings.TrimSpace(string(prev)) + " is kept"
		}
		return fmt.Errorf("checkpoint of step %d not written (%s): %w", step, kept, err)
	}
	prune(root, name)
	return nil
}

func writeCheckpoint(root, tmp, name string, ctx *context.Context, step int, state any) error {
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	var vars []*context.Variable
	ctx.EnumerateVariables(func(v *context.Variable) { vars = append(vars, v) })
	sort.Slice(vars, func(i, j int) bool { return vars[i].ScopeAndName() < vars[j].ScopeAndName() })
	stateJSON, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode trainer state: %w", err)
	}
	idx := checkpointIndex{Version: checkpointFormat, Step: step, State: stateJSON}
	var off int64
	err = atomicfile.WriteSummed(filepath.Join(tmp, "variables.bin"), 0o644, func(w io.Writer) error {
		for _, v := range vars {
			t, err := v.Value()
			if err != nil || t == nil {
				continue // not initialized yet: nothing to save
			}
			if !checkpointDTypes[t.DType()] {
				return fmt.Errorf("variable %s has dtype %s, which checkpoints do not hold", v.ScopeAndName(), t.DType())
			}
			size := t.DType().Size()
			var werr error
			if err := t.ConstFlatData(func(flat any) { werr = binary.Write(w, binary.LittleEndian, flat) }); err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
			idx.Variables = append(idx.Variables, varEntry{v.ScopeAndName(), t.DType().String(), t.Shape().Dimensions, off})
			off += int64(size * t.Shape().Size())
		}
		return nil
	})
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFileSummed(filepath.Join(tmp, "index.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	final := filepath.Join(root, name)
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(root, latestFile), []byte(name+"\n"), 0o644)
}

// prune removes all but the newest keepCheckpoints checkpoints (never the one just written).
func prune(root, keep string) {
	names := newestFirst(root, keep)
	for _, n := range names[min(len(names), keepCheckpoints):] {
		os.RemoveAll(filepath.Join(root, n))
	}
}

// newestFirst lists the checkpoint folders of root: first (when it exists), then the others
// by the time they were written, newest first. Folder names do not order checkpoints across
// phases, whose step counts restart.
func newestFirst(root, first string) []string {
	entries, _ := os.ReadDir(root)
	type cand struct {
		name string
		mod  int64
	}
	var cs []cand
	var names []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "step-") {
			continue
		}
		if e.Name() == first {
			names = append(names, first)
			continue
		}
		var mod int64
		if info, err := e.Info(); err == nil {
			mod = info.ModTime().UnixNano()
		}
		cs = append(cs, cand{e.Name(), mod})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].mod != cs[j].mod {
			return cs[i].mod > cs[j].mod
		}
		return cs[i].name > cs[j].name
	})
	for _, c := range cs {
		names = append(names, c.name)
	}
	return names
}

// Checkpoint is a loaded checkpoint: the step, the trainer state, and the variable values.
type Checkpoint struct {
	Step   int
	State  json.RawMessage
	Values map[string]*tensors.Tensor // by scope-and-name
	// Name is the checkpoint's folder (step-NNNNNNN).
	Name string
	// Warnings say what LoadLatest skipped to find this checkpoint (damaged newer ones) or
	// could not verify; the caller logs them.
	Warnings []string

	unverified bool
}

// ErrNoCheckpoint is returned by LoadLatest when the run has none yet.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadLatest reads the newest intact checkpoint of dir: the one named by checkpoints/latest,
// or, when that one is damaged (its files do not match their checksums, or cannot be read),
// the next newest that verifies, with Warnings naming what was skipped and why. It fails when
// checkpoints exist but none is intact.
func LoadLatest(dir string) (*Checkpoint, error) {
	root := filepath.Join(dir, checkpointDir)
	latest, err := os.ReadFile(filepath.Join(root, latestFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read checkpoint pointer: %w", err)
	}
	names := newestFirst(root, strings.TrimSpace(string(latest)))
	if len(names) == 0 {
		return nil, ErrNoCheckpoint
	}
	var skipped []string
	for _, name := range names {
		ck, err := load(filepath.Join(root, name))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s skipped: %v", name, err))
			continue
		}
		ck.Name = name
		for _, s := range skipped {
			ck.Warnings = append(ck.Warnings, fmt.Sprintf("checkpoint %s; falling back to %s", s, name))
		}
		if ck.unverified {
			ck.Warnings = append(ck.Warnings, fmt.Sprintf("checkpoint %s was written by an older build without checksums: not verified", name))
		}
		return ck, nil
	}
	return nil, fmt.Errorf("no intact checkpoint in %s:\n  %s\n(delete %s to train from the start)", root, strings.Join(skipped, "\n  "), root)
}

func load(path string) (*Checkpoint, error) {
	indexFile, varsFile := filepath.Join(path, "index.json"), filepath.Join(path, "variables.bin")
	data, err := atomicfile.ReadVerified(indexFile, true)
	if err != nil {
		return nil, err
	}
	var idx checkpointIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", indexFile, err)
	}
	unverified := idx.Version == 1
	switch {
	case unverified:
	case idx.Version != checkpointFormat:
		return nil, fmt.Errorf("%s: format %d, this build reads %d", indexFile, idx.Version, checkpointFormat)
	default:
		if err := atomicfile.Verify(indexFile); err != nil {
			return nil, err // a format-2 index must have its checksum
		}
	}
	var raw []byte
	if raw, err = atomicfile.ReadVerified(varsFile, unverified); err != nil {
		return nil, err
	}
	ck := &Checkpoint{Step: idx.Step, State: idx.State, Values: map[string]*tensors.Tensor{}, unverified: unverified}
	for _, v := range idx.Variables {
		n := 1
		for _, d := range v.Shape {
			n *= d
		}
		dt, ok := dtypeByName[v.DType]
		if !ok {
			return nil, fmt.Errorf("%s: variable %s has unsupported dtype %q", indexFile, v.Name, v.DType)
		}
		end := v.Offset + int64(n*dt.Size())
		if v.Offset < 0 || end > int64(len(raw)) {
			return nil, fmt.Errorf("%s: variable %s lies outside the file (truncated?)", varsFile, v.Name)
		}
		t := tensors.FromShape(shapes.Make(dt, v.Shape...))
		var rerr error
		t.MutableFlatData(func(flat any) {
			rerr = binary.Read(bytes.NewReader(raw[v.Offset:end]), binary.LittleEndian, flat)
		})
		if rerr != nil {
			return nil, fmt.Errorf("%s: variable %s: %w", varsFile, v.Name, rerr)
		}
		ck.Values[v.Name] = t
	}
	return ck, nil
}

// Restore sets the values of every variable of ctx found in the checkpoint, and installs a
// loader so that variables created later (graphs not built yet) get their saved values too.
func (ck *Checkpoint) Restore(ctx *context.Context) error {
	var err error
	ctx.EnumerateVariables(func(v *context.Variable) {
		if t, ok := ck.Values[v.ScopeAndName()]; ok && err == nil {
			if !t.Shape().Equal(v.Shape()) {
				err = fmt.Errorf("checkpoint variable %s has shape %s, the model %s: was the model configuration changed?",
					v.ScopeAndName(), t.Shape(), v.Shape())
				return
			}
			err = v.SetValue(t)
		}
	})
	if err != nil {
		return err
	}
	ctx.SetLoader(loader{ck})
	return nil
}

type loader struct{ ck *Checkpoint }

func (l loader) LoadVariable(_ *context.Context, scope, name string) (*tensors.Tensor, bool) {
	t, ok := l.ck.Values[context.JoinScope(scope, name)]
	return t, ok
}

func (l loader) DeleteVariable(_ *context.Context, scope, name string) error {
	delete(l.ck.Values, context.JoinScope(scope, name))
	return nil
}

var dtypeByName = func() map[string]dtypes.DType {
	m := map[string]dtypes.DType{}
	for dt := range checkpointDTypes {
		m[dt.String()] = dt
	}
	return m
}()
