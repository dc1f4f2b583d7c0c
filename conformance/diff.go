package conformance

import "strings"

// Diff returns a line diff of want (real Ollama) and got (the simulator),
// "-" for lines only real Ollama produced and "+" for the simulator's, or ""
// when they are equal. Inputs are a few hundred lines at most, so the
// quadratic longest-common-subsequence table is fine.
func Diff(want, got []string) string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	same := true
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			b.WriteString("  " + want[i] + "\n")
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			b.WriteString("- " + want[i] + "\n")
			i, same = i+1, false
		default:
			b.WriteString("+ " + got[j] + "\n")
			j, same = j+1, false
		}
	}
	if same {
		return ""
	}
	return b.String()
}
