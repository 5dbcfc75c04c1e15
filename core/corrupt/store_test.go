package corrupt

import (
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
)

// TestFailedRewriteKeepsPreviousStore: rewriting a store on a disk that fills up part way
// (after a few kilobytes of the new arrays) fails with an error that says so and names the
// kept store, and the previous store still reads back whole and verified.
func TestFailedRewriteKeepsPreviousStore(t *testing.T) {
	for _, room := range []int64{0, 5000, 40000} { // fails in observations, in a parameter, in the clean images
		dir := t.TempDir()
		writeRun(t, dir, 5)
		before, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		remove := atomicfile.InjectFault(atomicfile.DiskFull(dir, room))
		specs, ops, noise := corruption(t, mixed)
		clean := cleanImages(300)
		obs, params, _ := Corrupt(ctx, clean, ops, noise, 6)
		text, _ := ResolvedYAML(specs)
		err = Write(dir, obs, params, clean, Manifest{Seed: 6, Corruption: text})
		remove()
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") ||
			!strings.Contains(err.Error(), "the previous store is kept") {
			t.Fatalf("room %d: err = %v, want ENOSPC saying the previous store is kept", room, err)
		}
		after, err := Read(dir)
		if err != nil {
			t.Fatalf("room %d: previous store unreadable after the failed rewrite: %v", room, err)
		}
		if after.Manifest.Seed != 5 || !slices.Equal(after.Observations.Data, before.Observations.Data) {
			t.Errorf("room %d: store changed by the failed rewrite (seed %d)", room, after.Manifest.Seed)
		}
		if c, err := ReadClean(dir); err != nil || !slices.Equal(c.Data, clean.Data) {
			t.Errorf("room %d: clean images after the failed rewrite: %v", room, err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("room %d: temporary %s left behind", room, e.Name())
			}
		}
	}
}

// TestDamagedManifestRefused: the manifest has a checksum file too; a changed manifest is
// refused with the file named.
func TestDamagedManifestRefused(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 5)
	p := dir + "/" + ManifestFile
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), `"seed": 5`, `"seed": 7`, 1)), 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), ManifestFile+" is damaged") {
		t.Errorf("err = %v, want the manifest reported damaged", err)
	}
}
