package calibrate

import (
	"strconv"
	"time"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// Fit sets p's timing fields from a measurement, leaving the rest (the
// model's description, answer lengths, context) as they are:
//   - load_time: the cold load;
//   - prefill_per_token: the server's own prompt_eval_duration per prompt
//     token with one stream; ttft: the rest of the single stream's time to
//     first token;
//   - tokens_per_second: one stream alone;
//   - batch_slowdown and prefill_slowdown: least squares of the simulator's
//     model, rate = tps / (1 + b·(c−1)) and ttft = ttft₁ · (1 + p·(c−1)),
//     over the concurrencies above one.
func Fit(m Timing, p ollamasim.Profile) ollamasim.Profile {
	levels := m.Levels()
	if len(levels) == 0 {
		return p
	}
	one := levels[0] // normally 1
	p.LoadTime = ollamasim.Duration(m.Load.Round(time.Millisecond))

	var perToken time.Duration
	if m.PromptTokens > 0 {
		perToken = m.PromptEval / time.Duration(m.PromptTokens)
	}
	fixed := m.TTFT[one] - time.Duration(m.PromptTokens)*perToken
	if fixed < 0 { // prompt_eval_duration covers all of it (a cache miss reported long)
		fixed, perToken = 0, m.TTFT[one]/time.Duration(max(m.PromptTokens, 1))
	}
	p.TTFT, p.PrefillPerToken = ollamasim.Duration(fixed.Round(10*time.Microsecond)), ollamasim.Duration(perToken.Round(time.Microsecond))

	tps := m.PerStream[one]
	p.TokensPerSecond = round(tps, 1)
	var ttftX, rateX, den float64
	for _, c := range levels[1:] {
		x := float64(c - one)
		den += x * x
		ttftX += x * (float64(m.TTFT[c])/float64(m.TTFT[one]) - 1)
		if r := m.PerStream[c]; r > 0 {
			rateX += x * (tps/r - 1)
		}
	}
	if den > 0 {
		p.PrefillSlowdown = round(max(ttftX/den, 0), 2)
		p.BatchSlowdown = round(max(rateX/den, 0), 2)
	}
	return p
}

// round rounds v to so many decimals, exactly as printed (so that a
// written profile reads 0.35, not 0.35000000000000003).
func round(v float64, decimals int) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals, 64), 64)
	return r
}

// Refine corrects a fitted profile p for what the simulator adds of its
// own (HTTP handling, timer lateness): the simulator run with p measured
// as sim, so each figure moves by the difference between the real and the
// simulated measurement. Times to first token move by the difference at
// one stream; tokens/s by the ratio; the slowdowns by the difference
// between the two measurements' fits.
func Refine(p ollamasim.Profile, real, sim Timing) ollamasim.Profile {
	levels := real.Levels()
	if len(levels) == 0 {
		return p
	}
	one := levels[0]
	p.TTFT = ollamasim.Duration(max(p.TTFT.D()+real.TTFT[one]-sim.TTFT[one], 0).Round(10 * time.Microsecond))
	p.LoadTime = ollamasim.Duration(max(p.LoadTime.D()+real.Load-sim.Load, 0).Round(time.Millisecond))
	if s := sim.PerStream[one]; s > 0 {
		p.TokensPerSecond = round(p.TokensPerSecond*real.PerStream[one]/s, 1)
	}
	fr, fs := Fit(real, p), Fit(sim, p)
	p.BatchSlowdown = round(max(p.BatchSlowdown+fr.BatchSlowdown-fs.BatchSlowdown, 0), 2)
	p.PrefillSlowdown = round(max(p.PrefillSlowdown+fr.PrefillSlowdown-fs.PrefillSlowdown, 0), 2)
	return p
}
