package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLinearSchedule(t *testing.T) {
	s, err := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	if err != nil {
		t.Fatal(err)
	}
	// Reference values computed independently in Python (float64 running product):
	//   b = [1e-4 + (0.02-1e-4)*i/999 for i in range(1000)]; abar = cumulative product of 1-b
	//   abar[0] = 0.9999, abar[499] = 0.0785872, abar[999] = 4.03583e-5
	cases := []struct {
		i    int
		want float64
		tol  float64
	}{
		{0, 0.9999, 1e-12},
		{499, 0.0785872, 1e-7},
		{999, 4.03583e-5, 1e-9},
	}
	for _, c := range cases {
		if got := s.AlphaBar[c.i]; math.Abs(got-c.want) > c.tol {
			t.Errorf("abar[%d] = %.6g, want %.6g", c.i, got, c.want)
		}
	}
	// w_1 = beta_1 / (2 alpha_1 (1 - abar_1)) = 1 / (2 alpha_1) since 1 - abar_1 = beta_1.
	if got, want := s.ELBOWeight[0], 1/(2*0.9999); math.Abs(got-want) > 1e-9 {
		t.Errorf("w_1 = %v, want %v", got, want)
	}
	if _, err := NewLinear(1, 1e-4, 0.02); err == nil {
		t.Error("1-step schedule accepted")
	}
	if _, err := NewLinear(10, 0.5, 0.1); err == nil {
		t.Error("decreasing betas accepted")
	}
}

// TestImportanceSamplingUnbiased checks that both ELBO estimators agree on a known integrand:
// with ||eps - eps_theta||^2 = f(t), E_uniform[T w_t f(t)] = E_importance[W f(t)] = sum_t w_t f(t).
func TestImportanceSamplingUnbiased(t *testing.T) {
	s, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	f := func(i int) float64 { return 1 + math.Sin(float64(i)/50) }
	exact := 0.0
	for i, w := range s.ELBOWeight {
		exact += w * f(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	var uni, imp float64
	for _, i := range s.SampleUniform(rng, n) {
		uni += float64(s.Steps()) * s.ELBOWeight[i] * f(i)
	}
	for _, i := range s.SampleImportance(rng, n) {
		imp += s.ELBOTotal * f(i)
	}
	uni, imp = uni/n, imp/n
	// Tolerance: 2% (a few standard errors of the uniform estimator at n = 2e5).
	for name, v := range map[string]float64{"uniform": uni, "importance": imp} {
		if math.Abs(v-exact)/exact > 0.02 {
			t.Errorf("%s estimate %v, exact %v", name, v, exact)
		}
	}
}
