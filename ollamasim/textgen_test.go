package ollamasim

import (
	"strings"
	"testing"
)

func TestGenerateDeterministicAndPrefix(t *testing.T) {
	k := requestKey(1, "m", "hello", 0)
	a := generate(k, 10, 32, 256, nil)
	b := generate(k, 10, 32, 256, nil)
	long := generate(k, 20, 32, 256, nil)
	if strings.Join(a.tokens, "") != strings.Join(b.tokens, "") {
		t.Fatal("same key, different text")
	}
	if !strings.HasPrefix(strings.Join(long.tokens, ""), strings.Join(a.tokens, "")) {
		t.Fatal("a longer answer does not extend the shorter one")
	}
	if len(a.tokens) != 10 || a.doneReason != "length" {
		t.Fatalf("%d tokens, %s", len(a.tokens), a.doneReason)
	}
	other := generate(requestKey(2, "m", "hello", 0), 10, 32, 256, nil)
	if strings.Join(other.tokens, "") == strings.Join(a.tokens, "") {
		t.Fatal("another seed gives the same text")
	}
	nat := generate(k, 0, 5, 9, nil)
	if len(nat.tokens) < 5 || len(nat.tokens) > 9 || nat.doneReason != "stop" {
		t.Fatalf("natural length %d (%s)", len(nat.tokens), nat.doneReason)
	}
}

func TestGenerateStop(t *testing.T) {
	k := requestKey(1, "m", "stop test", 0)
	full := strings.Join(generate(k, 200, 200, 200, nil).tokens, "")
	// Pick a stop string that occurs: the third word.
	words := strings.Fields(full)
	stop := " " + words[3]
	g := generate(k, 200, 200, 200, []string{stop})
	text := strings.Join(g.tokens, "")
	if g.doneReason != "stop" || strings.Contains(text, stop) || !strings.HasPrefix(full, text) {
		t.Fatalf("stop %q: %q (%s)", stop, text, g.doneReason)
	}
	if len(g.ids) != len(g.tokens) {
		t.Fatalf("%d ids for %d tokens", len(g.ids), len(g.tokens))
	}
}

func TestCountTokens(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{{"", 0}, {"hi", 1}, {"Why is the sky blue?", 6}, {"internationalization", 4}} {
		if got := countTokens(c.s); got != c.want {
			t.Errorf("countTokens(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}
