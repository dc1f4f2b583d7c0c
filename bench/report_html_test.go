package bench

import (
	"reflect"
	"strings"
	"testing"
)

// A PromQL regexp's pipes, escaped in report.md's tables, stay inside their
// cell in report.html.
func TestSplitRowEscapedPipes(t *testing.T) {
	got := splitRow("| a | `route!~\"x\\|y\"` | c |")
	want := []string{" a ", " `route!~\"x|y\"` ", " c "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitRow = %q, want %q", got, want)
	}
	h := mdToHTML("| q |\n|---|\n| `a\\|b` |\n")
	if !strings.Contains(h, "<td><code>a|b</code></td>") {
		t.Errorf("mdToHTML lost the escaped pipe:\n%s", h)
	}
}
