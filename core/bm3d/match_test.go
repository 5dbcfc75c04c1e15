package bm3d

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMatchFindsPlantedBlocks plants copies of a reference block in an image of uniform
// noise, where no two other blocks are within tau_match (their expected distance per pixel is
// 2 * 255^2/12 = 10838 > 3000), and checks that matching finds exactly the copies, at
// distance 0, after the reference, with the group rounded down to a power of 2.
func TestMatchFindsPlantedBlocks(t *testing.T) {
	const h, w, ry, rx = 64, 72, 21, 24
	p, _ := ProfileParams(ProfileNormal, 25)
	for _, c := range []struct {
		copies    [][2]int // top-left corners of the planted copies
		wantGroup int
	}{
		{[][2]int{{31, 39}}, 2},
		{[][2]int{{31, 39}, {5, 5}}, 2}, // 3 found, rounded down to 2
		{[][2]int{{31, 39}, {5, 5}, {40, 10}}, 4},
		{[][2]int{{31, 39}, {5, 5}, {40, 10}, {50, 50}}, 4}, // (50, 50) is outside the window
	} {
		rng := rand.New(rand.NewPCG(5, 6))
		img := make([]float32, h*w)
		for i := range img {
			img[i] = float32(rng.Float64() * 255)
		}
		for _, cp := range c.copies {
			for y := 0; y < 8; y++ {
				copy(img[(cp[0]+y)*w+cp[1]:(cp[0]+y)*w+cp[1]+8], img[(ry+y)*w+rx:(ry+y)*w+rx+8])
			}
		}
		s, err := newStage(p.HT, false, img, nil, h, w, 25)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.prepareBand(context.Background(), 1, 0, s.bh); err != nil {
			t.Fatal(err)
		}
		best, m := s.match(ry, rx, nil)
		if m != c.wantGroup {
			t.Errorf("copies %v: group of %d, want %d (matches %v)", c.copies, m, c.wantGroup, best)
		}
		if best[0].i != int32(s.blockIndex(ry, rx)) || best[0].d != 0 {
			t.Errorf("copies %v: first match %v, want the reference itself", c.copies, best[0])
		}
		inWindow := map[int32]bool{}
		for _, cp := range c.copies {
			if abs(cp[0]-ry) <= s.hs && abs(cp[1]-rx) <= s.hs {
				inWindow[int32(s.blockIndex(cp[0], cp[1]))] = true
			}
		}
		if len(best) != 1+len(inWindow) {
			t.Errorf("copies %v: %d matches %v, want the reference and %d copies", c.copies, len(best), best, len(inWindow))
		}
		for _, b := range best[1:] {
			if !inWindow[b.i] || b.d != 0 {
				t.Errorf("copies %v: unexpected match %+v", c.copies, b)
			}
		}
	}
}

// TestMatchKeepsTheClosest: on a smooth ramp plus noise, the matches are the MaxGroup
// closest blocks of the window (checked against an exhaustive search without early exit),
// sorted, all below tau.
func TestMatchKeepsTheClosest(t *testing.T) {
	const h, w = 48, 48
	img := make([]float32, h*w)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range img {
		img[i] = float32(100 + 0.5*float64(i%w) + 5*rng.NormFloat64())
	}
	p, _ := ProfileParams(ProfileNormal, 5)
	s, err := newStage(p.HT, false, img, nil, h, w, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.prepareBand(context.Background(), 1, 0, s.bh); err != nil {
		t.Fatal(err)
	}
	best, m := s.match(20, 20, nil)
	if m != p.HT.MaxGroup || len(best) != p.HT.MaxGroup {
		t.Fatalf("group %d of %d matches, want %d (many similar blocks)", m, len(best), p.HT.MaxGroup)
	}
	for i := 1; i < len(best); i++ {
		if best[i].d < best[i-1].d || best[i].d >= s.tau {
			t.Fatalf("matches not sorted below tau %v: %v", s.tau, best)
		}
	}
	var all []float64
	ref := s.mT[s.blockIndex(20, 20)*s.nb:][:s.nb]
	for y := max(0, 20-s.hs); y <= min(s.bh-1, 20+s.hs); y++ {
		for x := max(0, 20-s.hs); x <= min(s.bw-1, 20+s.hs); x++ {
			var d float64
			for k, v := range s.mT[s.blockIndex(y, x)*s.nb:][:s.nb] {
				d += float64(v-ref[k]) * float64(v-ref[k])
			}
			all = append(all, d)
		}
	}
	slices.Sort(all)
	for i, b := range best {
		if math.Abs(float64(b.d)-all[i]) > 1e-3*all[i]+1e-3 {
			t.Errorf("match %d at distance %v, exhaustive search %v", i, b.d, all[i])
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
