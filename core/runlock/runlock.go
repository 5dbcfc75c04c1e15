// Package runlock makes a run folder owned by one process at a time, so that two `flowdiff
// run --resume` (or a run and a resume) never write the same checkpoints, losses and metrics.
//
// The owner holds FileName in the folder:
//
//   - an advisory lock on the file (flock(2), exclusive), held for as long as the owner runs
//     and dropped by the kernel when the process ends, however it ends (SIGKILL included);
//   - inside the file, who the owner is, as JSON (Owner: pid, host, start time, command), so a
//     refused process can name it.
//
// Acquire decides from both:
//
//	lock refused                       -> a live process owns the folder: error naming it
//	lock granted, file empty or absent -> the folder is free
//	lock granted, owner on this host   -> that process is gone (it would hold the lock):
//	                                      taken over; Lock.Warning names it for the log
//	lock granted, owner on another host-> refused: advisory locks need not reach across hosts
//	                                      (NFS), so the owner may be alive; the message says
//	                                      how to release the folder by hand
//
// Release removes the file and drops the lock. A process that opened the file before it was
// removed finds, once it holds the lock, that the path names another file (or none) and tries
// again, so two processes never both own a folder.
package runlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the lock file inside a run folder.
const FileName = "run.lock"

// Owner is what the lock file says about the process that holds it.
type Owner struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Command string    `json:"command"`
}

func (o Owner) String() string {
	return fmt.Sprintf("pid %d on host %s (since %s: %s)", o.PID, o.Host, o.Since.Local().Format(time.DateTime), o.Command)
}

// Lock is a held run folder; Release gives it back.
type Lock struct {
	// Warning is "" or what the caller should log: a stale lock that was taken over.
	Warning string
	// Previous is the owner of a stale lock taken over (PID 0 when there was none).
	Previous Owner

	path string
	f    *os.File
}

// HeldError is returned when another process owns the folder.
type HeldError struct {
	Dir   string
	Owner Owner
	// Remote is set when the owner is on another host and might still be running.
	Remote bool
}

func (e *HeldError) Error() string {
	lock := filepath.Join(e.Dir, FileName)
	if e.Remote {
		return fmt.Sprintf("run folder %s is owned by %s, which this host cannot check: "+
			"if that process has ended, delete %s and try again", e.Dir, e.Owner, lock)
	}
	return fmt.Sprintf("run folder %s is in use by %s: wait for it to finish or stop it (kill %d); "+
		"two processes must not write one run folder", e.Dir, e.Owner, e.Owner.PID)
}

// Acquire takes the run folder dir (which must exist) for this process. When it takes over
// a stale lock, the returned Lock's Warning says so for the caller's log.
func Acquire(dir string) (*Lock, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("lock run folder %s: host name: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	for range 10 { // each retry means the file was released and removed meanwhile
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock run folder %s: %w", dir, err)
		}
		got, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock run folder %s: %w", dir, err)
		}
		prev, readErr := readOwner(f)
		if !got {
			f.Close()
			if readErr != nil { // the owner is still writing who it is
				prev = Owner{Host: "?", Command: "unknown (lock file being written)"}
			}
			return nil, &HeldError{Dir: dir, Owner: prev}
		}
		if !sameFile(f, path) {
			f.Close()
			continue
		}
		l := &Lock{path: path, f: f}
		switch {
		case readErr != nil:
			l.Warning = fmt.Sprintf("run folder lock %s was unreadable (%v); taking it over", path, readErr)
		case prev.PID == 0:
			// a free folder
		case prev.Host != host:
			f.Close()
			return nil, &HeldError{Dir: dir, Owner: prev, Remote: true}
		default:
			l.Previous = prev
			l.Warning = fmt.Sprintf("taking over the run folder from %s, which is gone (it ended without releasing %s)", prev, path)
		}
		me := Owner{PID: os.Getpid(), Host: host, Since: time.Now().UTC(), Command: strings.Join(os.Args, " ")}
		if err := writeOwner(f, me); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock run folder %s: write owner: %w", dir, err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("lock run folder %s: the lock file keeps changing; another process is taking it", dir)
}

// Release removes the lock file and drops the lock. It is safe to call twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	err = errors.Join(err, l.f.Close())
	l.f = nil
	if err != nil {
		return fmt.Errorf("release run folder lock: %w", err)
	}
	return nil
}

// Read returns the owner recorded in dir's lock file, if any (for messages and tests).
func Read(dir string) (Owner, error) {
	f, err := os.Open(filepath.Join(dir, FileName))
	if err != nil {
		return Owner{}, err
	}
	defer f.Close()
	return readOwner(f)
}

func readOwner(f *os.File) (Owner, error) {
	var o Owner
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return o, err
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return o, err
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return Owner{}, fmt.Errorf("lock file is not JSON: %w", err)
	}
	return o, nil
}

func writeOwner(f *os.File, o Owner) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
