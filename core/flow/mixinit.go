package flow

import (
	"hash/fnv"
	"math/rand/v2"
)

// mixInit holds the initial value of an invertible 1x1 mixing W = P·L·(U + diag(sign·e^logScale))
// of C channels, row-major: a seeded random permutation P, L = I, U = 0, sign = +1, logScale = 0,
// so W = P (see mixVars for why not Glow's random rotation).
type mixInit struct {
	perm, lower, upper, sign, logScale []float64
}

// newMixInit returns the initial mixing of c channels for seed.
func newMixInit(c int, seed uint64) *mixInit {
	m := &mixInit{
		perm:     make([]float64, c*c),
		lower:    make([]float64, c*c),
		upper:    make([]float64, c*c),
		sign:     make([]float64, c),
		logScale: make([]float64, c),
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i, j := range rng.Perm(c) {
		m.perm[i*c+j] = 1
	}
	for i := range c {
		m.lower[i*c+i] = 1
		m.sign[i] = 1
	}
	return m
}

// seedOf returns a deterministic seed for the variables of the mixing at scope.
func seedOf(scope string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(scope))
	return h.Sum64()
}
