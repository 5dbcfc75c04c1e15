package atomicfile

import (
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Fault makes writes fail the way a full or failing disk does, for tests of code that writes
// through this package: while it is installed (InjectFault), the bytes of every file written
// pass through the writer it returns for that file's path.
type Fault func(path string, w io.Writer) io.Writer

var fault atomic.Pointer[Fault]

// InjectFault installs f for every later write in this process and returns the function that
// removes it. Only tests call it; production code never does.
func InjectFault(f Fault) (remove func()) {
	fault.Store(&f)
	return func() { fault.Store(nil) }
}

// wrap returns w as the installed fault sees it.
func wrap(path string, w io.Writer) io.Writer {
	if f := fault.Load(); f != nil && *f != nil {
		return (*f)(path, w)
	}
	return w
}

// DiskFull returns a Fault under which the files under folder dir (other paths are not
// affected) have only n more bytes between them: a write beyond fails with syscall.ENOSPC,
// "no space left on device", as on a full disk.
func DiskFull(dir string, n int64) Fault {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var mu sync.Mutex
	left := n
	return func(path string, w io.Writer) io.Writer {
		if !strings.HasPrefix(filepath.Clean(path), prefix) {
			return w
		}
		return writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			k := int(min(int64(len(p)), max(left, 0)))
			left -= int64(k)
			mu.Unlock()
			m, err := w.Write(p[:k])
			if err == nil && m < len(p) {
				err = syscall.ENOSPC
			}
			return m, err
		})
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
