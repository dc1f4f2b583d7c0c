package calibrate

import (
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// TestFitInvertsTheModel: figures made by the simulator's own formulas fit
// back to the profile that made them.
func TestFitInvertsTheModel(t *testing.T) {
	const (
		fixed    = 20 * time.Millisecond
		perToken = 500 * time.Microsecond
		prompt   = 12
		tps      = 300.0
		batch    = 0.25
		prefill  = 0.6
	)
	m := Timing{Load: 1500 * time.Millisecond, TTFT: map[int]time.Duration{}, PerStream: map[int]float64{}, Aggregate: map[int]float64{},
		PromptTokens: prompt, PromptEval: prompt * perToken}
	for _, c := range []int{1, 2, 4} {
		ttft1 := fixed + prompt*perToken
		m.TTFT[c] = time.Duration(float64(ttft1) * (1 + prefill*float64(c-1)))
		m.PerStream[c] = tps / (1 + batch*float64(c-1))
	}
	base := ollamasim.TinyCPUProfile()
	p := Fit(m, base)
	if p.LoadTime.D() != 1500*time.Millisecond || p.TTFT.D() != fixed || p.PrefillPerToken.D() != perToken ||
		p.TokensPerSecond != tps || p.BatchSlowdown != batch || p.PrefillSlowdown != prefill {
		t.Errorf("fit %+v", TimingsOf(p))
	}
	// What timing does not set comes from the base.
	if p.ContextLength != base.ContextLength || p.Model == nil || !p.Model.TinyModel {
		t.Errorf("fit lost the base's description: %+v", p)
	}
	// Streams that do not slow each other fit 0, never a negative slowdown.
	m.TTFT[4], m.PerStream[4] = m.TTFT[1]-time.Millisecond, tps*1.1
	m.TTFT[2], m.PerStream[2] = m.TTFT[1], tps
	if p := Fit(m, base); p.BatchSlowdown != 0 || p.PrefillSlowdown != 0 {
		t.Errorf("slowdowns %v, %v; want 0", p.BatchSlowdown, p.PrefillSlowdown)
	}
}
