package runlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as a second process holding a lock (see holder).
func TestMain(m *testing.M) {
	if dir := os.Getenv("RUNLOCK_HOLD"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n') // hold until told or killed
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts a second process that takes dir's lock, and waits until it holds it.
func holder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RUNLOCK_HOLD="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // open until the test ends: the holder waits on it
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("holder process: %q %v", line, err)
	}
	return cmd
}

// TestSecondProcessRefusedThenStaleTakenOver: a live owner in another process refuses the
// folder with its pid and host; once it is SIGKILLed (its lock file left behind), the folder
// is taken over with a warning that names it.
func TestSecondProcessRefusedThenStaleTakenOver(t *testing.T) {
	dir := t.TempDir()
	h := holder(t, dir)
	host, _ := os.Hostname()

	start := time.Now()
	_, err := Acquire(dir)
	took := time.Since(start)
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want a HeldError", err)
	}
	if he.Owner.PID != h.Process.Pid || he.Owner.Host != host || he.Remote {
		t.Errorf("owner = %+v, want pid %d on %s", he.Owner, h.Process.Pid, host)
	}
	for _, want := range []string{fmt.Sprintf("pid %d on host %s", h.Process.Pid, host), "is in use by", "kill"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Logf("refused in %v", took)

	h.Process.Kill()
	h.Wait()
	if o, err := Read(dir); err != nil || o.PID != h.Process.Pid {
		t.Fatalf("the killed owner's lock file should remain: %+v %v", o, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	if !strings.Contains(l.Warning, "taking over") || !strings.Contains(l.Warning, fmt.Sprintf("pid %d", h.Process.Pid)) ||
		l.Previous.PID != h.Process.Pid {
		t.Errorf("take-over warning missing or not naming pid %d: %q", h.Process.Pid, l.Warning)
	}
	if o, _ := Read(dir); o.PID != os.Getpid() || o.Host != host {
		t.Errorf("lock file names %+v after take-over, want this process", o)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Errorf("lock file left after Release: %v", err)
	}
}

// TestCases covers the decisions Acquire makes from the file alone and within one process.
func TestCases(t *testing.T) {
	host, _ := os.Hostname()
	cases := []struct {
		name    string
		content string // lock file before Acquire; "-" for none
		want    string // substring of the error; "" = acquired
		warn    string // substring of the log; "" = no warning
	}{
		{"free folder", "-", "", ""},
		{"empty file (owner killed while starting)", "", "", ""},
		{"garbage", "not json", "", "unreadable"},
		{"dead owner on this host", fmt.Sprintf(`{"pid": 999999999, "host": %q}`, host), "", "pid 999999999"},
		{"owner on another host", `{"pid": 42, "host": "elsewhere.example"}`, "pid 42 on host elsewhere.example", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.content != "-" {
				os.WriteFile(filepath.Join(dir, FileName), []byte(c.content), 0o644)
			}
			l, err := Acquire(dir)
			if c.want != "" {
				var he *HeldError
				if !errors.As(err, &he) || !he.Remote || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "delete") {
					t.Fatalf("err = %v, want a remote HeldError naming %q and how to release it", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if (c.warn == "") != (l.Warning == "") || !strings.Contains(l.Warning, c.warn) {
				t.Errorf("warning = %q, want one containing %q", l.Warning, c.warn)
			}
			// A second lock in this same process (another open file) is refused too.
			if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
				t.Errorf("second Acquire in one process: %v", err)
			}
			l.Release()
			l2, err := Acquire(dir)
			if err != nil {
				t.Fatalf("acquire after release: %v", err)
			}
			l2.Release()
		})
	}
}
