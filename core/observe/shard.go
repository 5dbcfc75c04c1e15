package observe

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is part K of N of an input list, for restoring a large dataset on N machines at once
// (a Slurm job array, a Kubernetes Indexed Job) with no merge step: every input belongs to
// exactly one shard, the one numbered FNV-1a-64(Rel) mod N. The owner of a file depends on its
// relative name only, not on the other inputs, so adding files to a dataset does not move the
// others, and a shard's rerun finds its earlier outputs. The zero Shard (N = 0) is the whole
// list.
type Shard struct{ K, N int }

// ParseShard reads "K/N" with 0 <= K < N (K counts from 0, like $SLURM_ARRAY_TASK_ID with
// --array=0-(N-1) and $JOB_COMPLETION_INDEX); "" is the whole list.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Shard{}, fmt.Errorf("shard %q: want K/N with 0 <= K < N, e.g. 0/4 for the first of 4 machines", s)
	}
	return Shard{K: k, N: n}, nil
}

// String is "K/N", or "all" for the zero Shard.
func (s Shard) String() string {
	if s.N == 0 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Owns reports whether the input named rel belongs to this shard.
func (s Shard) Owns(rel string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(rel))
	return int(h.Sum64()%uint64(s.N)) == s.K
}

// Select returns the inputs this shard owns, in their order.
func (s Shard) Select(in []Input) []Input {
	var out []Input
	for _, x := range in {
		if s.Owns(x.Rel) {
			out = append(out, x)
		}
	}
	return out
}
