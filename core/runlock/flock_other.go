//go:build !unix

package runlock

import "os"

// tryLock cannot take a kernel lock here: the recorded owner decides (see Acquire), so a
// lock left by a crashed process must be deleted by hand on these systems.
func tryLock(f *os.File) (bool, error) {
	o, err := readOwner(f)
	return err == nil && (o.PID == 0 || o.PID == os.Getpid()), nil
}
