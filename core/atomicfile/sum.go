package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SumSuffix is appended to a file's name for its checksum file, which holds the file's SHA-256
// in the format of sha256sum ("<hex digest>  <name>\n"), so `sha256sum -c name.sha256` checks
// it by hand too.
const SumSuffix = ".sha256"

// ErrNoSum is wrapped by Verify's error when the file has no checksum file: written by an
// older build, or by a process that stopped between the file and its checksum.
var ErrNoSum = errors.New("no checksum file")

// DamagedError is a file whose content no longer matches its checksum: it changed after it
// was written (a full disk, a killed copy, a failing drive, an edit).
type DamagedError struct {
	Path      string
	Want, Got string // hex digests; Got is "" when the file cannot be read
	Err       error  // why the file cannot be read, if so
}

func (e *DamagedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s is damaged: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("%s is damaged: its sha256 is %.12s..., its checksum file says %.12s... (the file changed after it was written)",
		e.Path, e.Got, e.Want)
}

// WriteSummed atomically writes path with what fill writes (see Write), then its checksum
// file. A failed write leaves the old file and its checksum. Once the new content is on disk
// the old checksum file is removed, then the file replaced and the new checksum written, so a
// process stopped in between leaves a file without a checksum (ErrNoSum), never one with a
// wrong checksum.
func WriteSummed(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	h := sha256.New()
	removeOld := func() error {
		if err := os.Remove(path + SumSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the old checksum: %w", err)
		}
		return nil
	}
	err := write(path, perm, func(w io.Writer) error { return fill(io.MultiWriter(w, h)) }, removeOld)
	if err != nil {
		return err
	}
	line := hex.EncodeToString(h.Sum(nil)) + "  " + filepath.Base(path) + "\n"
	return WriteFile(path+SumSuffix, []byte(line), 0o644)
}

// WriteFileSummed is WriteSummed of data.
func WriteFileSummed(path string, data []byte, perm os.FileMode) error {
	return WriteSummed(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Verify checks path against its checksum file: nil when they match, an error wrapping
// ErrNoSum when there is no checksum file, a *DamagedError when the content differs or the
// file cannot be read.
func Verify(path string) error {
	want, err := readSum(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return &DamagedError{Path: path, Want: want, Err: err}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return &DamagedError{Path: path, Want: want, Err: err}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &DamagedError{Path: path, Want: want, Got: got}
	}
	return nil
}

// ReadVerified reads path after checking it against its checksum file (see Verify); a file
// without one is read as is when allowUnsummed.
func ReadVerified(path string, allowUnsummed bool) ([]byte, error) {
	want, err := readSum(path)
	if errors.Is(err, ErrNoSum) && allowUnsummed {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &DamagedError{Path: path, Want: want, Err: err}
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, &DamagedError{Path: path, Want: want, Got: got}
	}
	return data, nil
}

func readSum(path string) (string, error) {
	data, err := os.ReadFile(path + SumSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", path, ErrNoSum)
	}
	if err != nil {
		return "", fmt.Errorf("%s: read checksum: %w", path, err)
	}
	digest, name, ok := strings.Cut(strings.TrimSpace(string(data)), "  ")
	if !ok || name != filepath.Base(path) || len(digest) != 2*sha256.Size {
		return "", &DamagedError{Path: path + SumSuffix, Err: fmt.Errorf("not a sha256sum line for %s", filepath.Base(path))}
	}
	return digest, nil
}
