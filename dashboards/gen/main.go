// Command gen writes dsbridge's Grafana dashboards and provisioning files
// into the dashboards/ directory. Run by `go generate ./dashboards` and
// `make dashboards`; the JSON it writes is committed.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dsbridge/dsbridge/dashboards"
)

func main() {
	out := flag.String("out", "dashboards", "the dashboards/ directory to write into")
	flag.Parse()
	if err := dashboards.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
