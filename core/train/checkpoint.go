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
//	variables.bin   every context variable (float32, float64 or int64), little-endian,
//	                concatenated in index order
//	index.json      {version, step, state, variables: [{name, dtype, shape, offset}]} (offset in bytes)
//
// written into a temporary folder and renamed into place, then checkpoints/latest (the folder
// name) is replaced atomically. A crash leaves either the previous checkpoint or the new one.
const (
	checkpointDir    = "checkpoints"
	latestFile       = "latest"
	checkpointFormat = 1
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

// SaveCheckpoint writes every variable of ctx and the trainer state into dir/checkpoints.
func SaveCheckpoint(dir string, ctx *context.Context, step int, state any) error {
	root := filepath.Join(dir, checkpointDir)
	name := fmt.Sprintf("step-%07d", step)
	final := filepath.Join(root, name)
	tmp := filepath.Join(root, ".tmp-"+name)
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var vars []*context.Variable
	ctx.EnumerateVariables(func(v *context.Variable) { vars = append(vars, v) })
	sort.Slice(vars, func(i, j int) bool { return vars[i].ScopeAndName() < vars[j].ScopeAndName() })
	stateJSON, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	idx := checkpointIndex{Version: checkpointFormat, Step: step, State: stateJSON}
	var off int64
	err = atomicfile.Write(filepath.Join(tmp, "variables.bin"), 0o644, func(w io.Writer) error {
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
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, "index.json"), idx); err != nil {
		return err
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(root, latestFile), []byte(name+"\n"), 0o644); err != nil {
		return err
	}
	prune(root, name)
	return nil
}

// prune removes all but the newest keepCheckpoints checkpoints (never the one just written).
func prune(root, keep string) {
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for i := 0; i < len(names)-keepCheckpoints; i++ {
		if names[i] != keep {
			os.RemoveAll(filepath.Join(root, names[i]))
		}
	}
}

// Checkpoint is a loaded checkpoint: the step, the trainer state, and the variable values.
type Checkpoint struct {
	Step   int
	State  json.RawMessage
	Values map[string]*tensors.Tensor // by scope-and-name
}

// ErrNoCheckpoint is returned by LoadLatest when the run has none yet.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadLatest reads the newest complete checkpoint of dir.
func LoadLatest(dir string) (*Checkpoint, error) {
	root := filepath.Join(dir, checkpointDir)
	name, err := os.ReadFile(filepath.Join(root, latestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint pointer: %w", err)
	}
	return load(filepath.Join(root, strings.TrimSpace(string(name))))
}

func load(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(path, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var idx checkpointIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("checkpoint %s: damaged index: %w", path, err)
	}
	if idx.Version != checkpointFormat {
		return nil, fmt.Errorf("checkpoint %s: format %d, this build reads %d", path, idx.Version, checkpointFormat)
	}
	raw, err := os.ReadFile(filepath.Join(path, "variables.bin"))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	ck := &Checkpoint{Step: idx.Step, State: idx.State, Values: map[string]*tensors.Tensor{}}
	for _, v := range idx.Variables {
		n := 1
		for _, d := range v.Shape {
			n *= d
		}
		dt, ok := dtypeByName[v.DType]
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: variable %s has unsupported dtype %q", path, v.Name, v.DType)
		}
		end := v.Offset + int64(n*dt.Size())
		if v.Offset < 0 || end > int64(len(raw)) {
			return nil, fmt.Errorf("checkpoint %s: variable %s lies outside variables.bin (truncated file?)", path, v.Name)
		}
		t := tensors.FromShape(shapes.Make(dt, v.Shape...))
		var rerr error
		t.MutableFlatData(func(flat any) {
			rerr = binary.Read(bytes.NewReader(raw[v.Offset:end]), binary.LittleEndian, flat)
		})
		if rerr != nil {
			return nil, fmt.Errorf("checkpoint %s: variable %s: %w", path, v.Name, rerr)
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
