package main

import (
	"fmt"
	"strings"
)

// change is the bridge against its base build (--base-dsbridge) in one
// case, repeat by repeat. Whole runs move by 20 % on a shared machine and a
// build's CPU per request by ±15 % between cells, so a change is read from
// the ratios of cells measured side by side, and from how many repeats
// agree on its sign, not from the two medians.
type change struct {
	Case string `json:"case"`
	// CPURatio is the bridge's proxy CPU per request over the base's.
	CPURatio stat `json:"cpu_ratio"`
	// Cheaper counts the repeats where the bridge used less CPU per request.
	Cheaper int `json:"cheaper"`
	// RateRatio is requests/s over the base's.
	RateRatio stat `json:"rate_ratio"`
	Repeats   int  `json:"repeats"`
}

// changes pairs the bridge's and the base build's cells of each repeat; nil
// when the run has no base build.
func changes(cases []benchCase, cells []cell) []change {
	var out []change
	for _, bc := range cases {
		ch := change{Case: bc.Name}
		var cpu, rate []float64
		for _, b := range cells {
			if b.Target != "bridge" || b.Case != bc.Name {
				continue
			}
			for _, o := range cells {
				if o.Target != "bridge-base" || o.Case != bc.Name || o.Repeat != b.Repeat {
					continue
				}
				if o.ReqPerSec > 0 {
					rate = append(rate, b.ReqPerSec/o.ReqPerSec)
				}
				if b.ProxyCPUPer1k > 0 && o.ProxyCPUPer1k > 0 {
					cpu = append(cpu, b.ProxyCPUPer1k/o.ProxyCPUPer1k)
					if b.ProxyCPUPer1k < o.ProxyCPUPer1k {
						ch.Cheaper++
					}
				}
			}
		}
		if len(rate) == 0 {
			continue
		}
		ch.Repeats, ch.CPURatio, ch.RateRatio = len(rate), statOf(cpu), statOf(rate)
		out = append(out, ch)
	}
	return out
}

// changesMarkdown is the report's paragraph on the change.
func changesMarkdown(chs []change) string {
	if len(chs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("**The bridge against its base build** (ratios of the two builds' cells within each repeat; below 1.00 the bridge used less):\n\n")
	for _, ch := range chs {
		fmt.Fprintf(&b, "- %s: proxy CPU per request %.2f (%.2f–%.2f), lower in %d of %d repeats; requests/s %.2f (%.2f–%.2f)\n",
			ch.Case, ch.CPURatio.Median, ch.CPURatio.Min, ch.CPURatio.Max, ch.Cheaper, ch.Repeats,
			ch.RateRatio.Median, ch.RateRatio.Min, ch.RateRatio.Max)
	}
	b.WriteString("\n")
	return b.String()
}
