package loadgen

import (
	"math"
	"testing"
	"time"
)

// count returns how many arrivals p schedules within d.
func count(p Pacer, d time.Duration) (n int, last time.Duration) {
	for off := range Arrivals(p, d, 10_000_000) {
		n++
		last = off
	}
	return n, last
}

func TestConstantPacerSchedule(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		d    time.Duration
		want int
	}{
		{1000, 5 * time.Second, 5000}, // 1 ms apart, the last due at exactly 5 s
		{1, 10 * time.Second, 10},     // 1/s: due at 1 s … 10 s
		{0.5, 10 * time.Second, 5},    // fractional: every 2 s
		{12.5, 4 * time.Second, 50},   // fractional, above 1/s
		{3000, time.Second, 3000},     // the seed's rate
	} {
		n, last := count(ConstantPacer(tc.rate), tc.d)
		if n != tc.want {
			t.Errorf("rate %g over %s: %d arrivals, want %d", tc.rate, tc.d, n, tc.want)
		}
		if last > tc.d {
			t.Errorf("rate %g: last arrival %s after the duration", tc.rate, last)
		}
	}
}

func TestPoissonPacer(t *testing.T) {
	p := PoissonPacer{Mean: 1000, Seed: 7}
	var gaps []float64
	prev := time.Duration(0)
	for off := range Arrivals(p, 20*time.Second, 0) {
		gaps = append(gaps, (off - prev).Seconds())
		prev = off
	}
	n := float64(len(gaps))
	// 20 000 expected; a Poisson count has sd √20000 ≈ 141, so ±1 % is 1.4 sd.
	if math.Abs(n-20000) > 600 {
		t.Errorf("%v arrivals in 20 s at 1000/s, want about 20000", n)
	}
	var sum, sq float64
	for _, g := range gaps {
		sum += g
	}
	mean := sum / n
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	cv := math.Sqrt(sq/n) / mean
	// Exponential gaps have a coefficient of variation of 1 (constant: 0).
	if cv < 0.95 || cv > 1.05 {
		t.Errorf("gap coefficient of variation %.3f, want ≈ 1 for exponential gaps", cv)
	}
	// Pure: the same seed gives the same schedule, another seed another.
	a, _ := p.Pace(0, 123)
	b, _ := p.Pace(time.Hour, 123)
	c, _ := PoissonPacer{Mean: 1000, Seed: 8}.Pace(0, 123)
	if a != b || a == c {
		t.Errorf("gaps %v %v (same seed, same hit) and %v (other seed)", a, b, c)
	}
	if _, stop := (PoissonPacer{}).Pace(0, 0); !stop {
		t.Error("a zero-rate Poisson pacer must stop")
	}
}

func TestStagePacer(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    StagePacer
		d    time.Duration
		want int
	}{
		// 0 → 100/s over 10 s: the area under the ramp is 500 hits.
		{"ramp up", StagePacer{Stages: []Stage{{10 * time.Second, 100}}}, time.Hour, 500},
		// steady 200/s for 5 s, then down to 0 over 2 s: 1000 + 200.
		{"hold and ramp down", StagePacer{Start: 200, Stages: []Stage{{5 * time.Second, 200}, {2 * time.Second, 0}}}, time.Hour, 1200},
		// a zero-length leg jumps the rate: 50/s for 4 s.
		{"step", StagePacer{Stages: []Stage{{0, 50}, {4 * time.Second, 50}}}, time.Hour, 200},
		// the run's duration cuts the stages short.
		{"cut", StagePacer{Start: 100, Stages: []Stage{{10 * time.Second, 100}}}, 3 * time.Second, 300},
	} {
		n, _ := count(tc.p, tc.d)
		if n < tc.want-1 || n > tc.want+1 {
			t.Errorf("%s: %d arrivals, want %d ± 1", tc.name, n, tc.want)
		}
	}
	p := StagePacer{Start: 100, Stages: []Stage{{10 * time.Second, 300}}}
	if r := p.Rate(5 * time.Second); math.Abs(r-200) > 1e-9 {
		t.Errorf("rate half-way up the ramp = %g, want 200", r)
	}
	if r := p.Rate(11 * time.Second); r != 0 {
		t.Errorf("rate after the last stage = %g, want 0", r)
	}
	// Behind schedule: send at once.
	if w, stop := p.Pace(5*time.Second, 0); w != 0 || stop {
		t.Errorf("Pace behind schedule = %v, %v; want 0, false", w, stop)
	}
}

func TestParseStages(t *testing.T) {
	st, err := ParseStages("10s:100, 1m:500,5s:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[1] != (Stage{time.Minute, 500}) {
		t.Errorf("got %+v", st)
	}
	for _, bad := range []string{"", "10s", "x:1", "10s:-1", "10s:NaN", "-1s:5", "10s:1e400"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) gave no error", bad)
		}
	}
}
