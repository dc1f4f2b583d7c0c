// Package loadgen drives LLM load at an Ollama-compatible server (Ollama,
// the simulator, or a bridge in front of them) and measures it honestly:
// what `dsbridge load` and the bench harness use.
//
// # Pipeline
//
// It follows vegeta's shape: a pure Pacer, a func Targeter, a channel of
// *Result, a Results report with Add and Close, and Reporters.
//
//	Pacer ──Arrivals()──▶ due times, fixed before the first request
//	                         │  sleep until due; a slot of MaxInFlight (else late / dropped)
//	                         ▼
//	Targeter(seq) ──▶ Target ──▶ Client.Do: one goroutine per request
//	                                 │  NDJSON / SSE read line by line: TTFT, ITL, tokens
//	                                 ▼ *Result
//	                    Results.Add ──▶ HDR histograms, timeline, counts ──▶ Close
//	                                                     │
//	                           WriteJSON (results.json) / NewTextReporter / Merge
//
// # Open model, no coordinated omission
//
// In the open model (Config.Pacer) every arrival time is computed from the
// pacer with a virtual clock before it is due, so slow responses never delay
// the next send; every duration (latency, TTFT) is measured from the due
// time, not from the moment the request actually left. If the generator
// itself falls behind, that shows in the latencies and in
// Results.SendDelay, Requests.Late and Requests.Dropped, never hidden.
// Config.Users selects a closed model (N users waiting for their answers)
// for comparison only: it hides server stalls.
//
// # Use
//
//	rs, err := loadgen.Run(ctx, loadgen.Config{
//		Target:   "http://127.0.0.1:11434",
//		Pacer:    loadgen.ConstantPacer(1000), // or PoissonPacer{Mean, Seed}, StagePacer{Start, Stages}, any vegeta.Pacer
//		Duration: 30 * time.Second,
//		Mix:      mix,                         // from ParseMix(yaml); nil: streamed /api/chat on the first model
//		Progress: func(p loadgen.Progress) { … }, // every ProgressEvery: elapsed, sent, rate, failures, p99
//	})
//	rs.WriteJSON(w)                      // results.json, schema dsbridge.results/v1
//	loadgen.NewTextReporter(rs)(os.Stdout)
//
// For the raw results as they come (vegeta's Attacker.Attack shape):
//
//	a, err := loadgen.NewAttacker(ctx, cfg)
//	for r := range a.Attack(ctx) { … }   // one *Result per request
//	st := a.Stats()                      // scheduled, sent, late, dropped, peak in flight
//
// Shards from several machines merge exactly: ReadResults each file, Merge
// them into the one that started first, Close, and the percentiles are those
// of one run over every request (HDR histograms with equal bucket layouts).
//
// The package holds no package-level mutable state; Run may be called
// concurrently. Targets must be loopback addresses unless
// Config.AllowNonLoopback is set (only for the project's own containers).
package loadgen
