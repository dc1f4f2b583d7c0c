package conformance

import (
	"bufio"
	"os"
	"strings"
)

// Known is the list of corpus steps where the simulator is known to differ
// from real Ollama, each with the reason, from testdata/known-differences.txt
// ("step  # reason" per line). A known difference is still printed in full
// but does not fail the suite; a listed step that now matches does fail, so
// the list only shrinks. An empty list is the goal (issue 6).
type Known map[string]string

// LoadKnown reads the list; a missing file is an empty list.
func LoadKnown(path string) (Known, error) {
	k := Known{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, "#")
		k[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return k, sc.Err()
}

// strict reports whether known differences fail too
// (DSBRIDGE_CONFORMANCE_STRICT=1; `make conformance` sets it).
func strict() bool { return os.Getenv("DSBRIDGE_CONFORMANCE_STRICT") != "" }
