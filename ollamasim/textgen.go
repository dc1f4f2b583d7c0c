package ollamasim

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// vocabulary is the simulator's word list. Each generated token is one of
// these with a leading space, or a punctuation mark: readable word salad,
// like the golden transcripts' tiny model, and cheap to produce.
var vocabulary = strings.Fields(`the of and to in is you that it he was for on are as with his they I at be
this have from or one had by word but not what all were we when your can said there use an each which she do how
their if will up other about out many then them these so some her would make like him into time has look two
more write go see number no way could people my than first water been call who oil its now find long down day
did get come made may part model answer data system server request token stream network cloud cluster latency
memory compute queue load balance health check replica node fail over route cache policy window rate limit
simple fast slow bright quiet large small early late because while where after before under above between`)

// spacedVocabulary is vocabulary with each word's leading space, built
// once so generating a token allocates nothing. Read-only after init.
var spacedVocabulary = func() []string {
	out := make([]string, len(vocabulary))
	for i, w := range vocabulary {
		out[i] = " " + w
	}
	return out
}()

// punctuation tokens, emitted now and then after a word.
var punctuation = []string{".", ",", "?", "!", ";"}

// tokenIDBase keeps simulated token ids clear of special tokens.
const tokenIDBase = 256

// generation is the deterministic answer to one request.
type generation struct {
	tokens     []string // each token's text
	ids        []int    // token ids (for /api/generate's context)
	doneReason string   // "stop" or "length"
}

// requestKey hashes what makes an answer: seed, model and prompt. The
// requested length is left out on purpose, so a longer answer to the same
// request starts with the shorter one.
func requestKey(seed uint64, model, prompt string, optSeed int64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(model))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(prompt))
	for i := range 8 {
		b[i] = byte(uint64(optSeed) >> (8 * i))
	}
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// generate produces the answer for key. numPredict > 0 caps its length
// (done_reason "length"); otherwise its natural length lies in
// [minTok, maxTok]. stop strings end it early (done_reason "stop") without
// emitting the stop text, as Ollama does.
func generate(key uint64, numPredict, minTok, maxTok int, stop []string) generation {
	rng := rand.New(rand.NewPCG(key, key^0x9e3779b97f4a7c15))
	if maxTok < minTok {
		maxTok = minTok
	}
	natural := minTok
	if maxTok > minTok {
		natural += rng.IntN(maxTok - minTok + 1)
	}
	n, reason := natural, "stop"
	if numPredict > 0 && numPredict <= natural {
		n, reason = numPredict, "length"
	}
	g := generation{tokens: make([]string, 0, n), ids: make([]int, 0, n)}
	var text strings.Builder
	lastPunct := true
	for len(g.tokens) < n {
		var tok string
		var id int
		if !lastPunct && rng.IntN(8) == 0 {
			i := rng.IntN(len(punctuation))
			tok, id = punctuation[i], tokenIDBase+len(vocabulary)+i
			lastPunct = true
		} else {
			i := rng.IntN(len(vocabulary))
			tok, id = spacedVocabulary[i], tokenIDBase+i
			lastPunct = false
		}
		if len(stop) > 0 {
			text.WriteString(tok)
			if cut, ok := hitStop(text.String(), len(tok), stop); ok {
				if cut != "" {
					g.tokens = append(g.tokens, cut)
					g.ids = append(g.ids, id)
				}
				g.doneReason = "stop"
				return g
			}
		}
		g.tokens = append(g.tokens, tok)
		g.ids = append(g.ids, id)
	}
	g.doneReason = reason
	return g
}

// hitStop reports whether text (whose last token is tokLen bytes) now
// contains a stop string, and what part of the last token comes before it.
func hitStop(text string, tokLen int, stop []string) (string, bool) {
	start := len(text) - tokLen
	for _, s := range stop {
		if s == "" {
			continue
		}
		// Only a match that ends inside the new token is new.
		from := max(0, start-len(s)+1)
		if i := strings.Index(text[from:], s); i >= 0 {
			at := from + i
			if at <= start {
				return "", true
			}
			return text[start:at], true
		}
	}
	return "", false
}

// countTokens estimates a tokenizer: about one token per short word, more
// for long ones, one per punctuation mark. Deterministic and cheap.
func countTokens(s string) int {
	n := 0
	inWord, wordLen := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			if inWord {
				n += 1 + wordLen/6
			}
			inWord, wordLen = false, 0
		case c < 0x80 && !isAlnum(c):
			if inWord {
				n += 1 + wordLen/6
			}
			inWord, wordLen = false, 0
			n++
		default:
			inWord = true
			wordLen++
		}
	}
	if inWord {
		n += 1 + wordLen/6
	}
	return n
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '\''
}

// promptIDs makes n deterministic prompt token ids for /api/generate's
// context (the real ids are the tokenizer's; only the count matters).
func promptIDs(key uint64, n int) []int {
	ids := make([]int, n)
	x := key
	for i := range ids {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ids[i] = tokenIDBase + int(x%uint64(len(vocabulary)))
	}
	return ids
}
