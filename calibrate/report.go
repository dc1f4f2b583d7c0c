package calibrate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsbridge/dsbridge/ollamasim"
)

// Schema names the calibration.json format.
const Schema = "dsbridge.calibration/v1"

// Report is one calibration run: what was measured, the profile the
// simulator ran with, and both servers side by side.
type Report struct {
	Schema     string    `json:"schema"`
	Time       time.Time `json:"time"`
	Target     string    `json:"target"`
	Model      string    `json:"model"`
	Prompt     string    `json:"prompt"`
	Tokens     int       `json:"tokens"`
	Options    string    `json:"options,omitempty"`
	Rounds     int       `json:"rounds"`
	Streams    []int     `json:"streams"`
	ProfileSrc string    `json:"profile_source"` // "fitted" or the --profile given
	// Refined is how many times the fitted profile was corrected by the
	// simulator's own measurement (Refine) before this comparison.
	Refined int     `json:"refined"`
	Profile Timings `json:"profile"`
	Real    Figures `json:"real"`
	Sim     Figures `json:"sim"`
	Comparison
}

// Timings is the timing part of a simulator profile, as a profile file
// writes it.
type Timings struct {
	LoadTime        ollamasim.Duration `yaml:"load_time" json:"load_time"`
	TTFT            ollamasim.Duration `yaml:"ttft" json:"ttft"`
	PrefillPerToken ollamasim.Duration `yaml:"prefill_per_token" json:"prefill_per_token"`
	TokensPerSecond float64            `yaml:"tokens_per_second" json:"tokens_per_second"`
	BatchSlowdown   float64            `yaml:"batch_slowdown" json:"batch_slowdown"`
	PrefillSlowdown float64            `yaml:"prefill_slowdown" json:"prefill_slowdown"`
}

// TimingsOf picks a profile's timing fields.
func TimingsOf(p ollamasim.Profile) Timings {
	return Timings{p.LoadTime, p.TTFT, p.PrefillPerToken, p.TokensPerSecond, p.BatchSlowdown, p.PrefillSlowdown}
}

// Figures is a Timing in milliseconds, keyed by concurrency, for JSON.
type Figures struct {
	LoadMs       float64            `json:"load_ms"`
	TTFTMs       map[string]float64 `json:"ttft_ms"`
	PerStream    map[string]float64 `json:"tokens_per_s_per_stream"`
	Aggregate    map[string]float64 `json:"tokens_per_s_total"`
	PromptTokens int                `json:"prompt_tokens"`
	PromptEvalMs float64            `json:"prompt_eval_ms"`
}

// FiguresOf converts a Timing.
func FiguresOf(t Timing) Figures {
	f := Figures{LoadMs: ms(t.Load), TTFTMs: map[string]float64{}, PerStream: map[string]float64{}, Aggregate: map[string]float64{},
		PromptTokens: t.PromptTokens, PromptEvalMs: ms(t.PromptEval)}
	for c, d := range t.TTFT {
		k := fmt.Sprint(c)
		f.TTFTMs[k], f.PerStream[k], f.Aggregate[k] = ms(d), t.PerStream[c], t.Aggregate[c]
	}
	return f
}

// ProfileYAML is a profile file that gives model these timings on top of
// base (a built-in profile, which supplies everything else).
func ProfileYAML(base, model string, t Timings) ([]byte, error) {
	return yaml.Marshal(struct {
		Base   string             `yaml:"base"`
		Models map[string]Timings `yaml:"models"`
	}{base, map[string]Timings{model: t}})
}

// Markdown is the human report.
func (r Report) Markdown() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# Calibration: %s at %s — %s\n\n", r.Model, r.Target, verdict)
	fmt.Fprintf(&b, "Real server and `dsbridge sim` (profile: %s) measured the same way, one after the other: a cold load, "+
		"then %v concurrent streamed `/api/generate` requests of %d tokens (prompt %q), median of %d rounds. "+
		"Time to first token and one stream's tokens/s at the lowest and the highest concurrency must agree within ±%.0f %%; rows in parentheses are for reading.\n\n",
		r.ProfileSrc, r.Streams, r.Tokens, r.Prompt, r.Rounds, r.Tolerance*100)
	b.WriteString(r.Table())
	if r.Refined > 0 {
		fmt.Fprintf(&b, "\nThe fitted profile was corrected %d time(s) by the simulator's own measurement (its HTTP and timer overheads).\n", r.Refined)
	}
	fmt.Fprintf(&b, "\nThe real server reported %d prompt tokens evaluated in %.2f ms with one stream.\n", r.Real.PromptTokens, r.Real.PromptEvalMs)
	y, err := yaml.Marshal(r.Profile)
	if err == nil {
		fmt.Fprintf(&b, "\n## Profile\n\n```yaml\n%s```\n", y)
	}
	return b.String()
}

// WriteFiles writes calibration.md and calibration.json into dir.
func (r Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "calibration.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "calibration.md"), []byte(r.Markdown()), 0o644)
}
