package tinymodel

import "fmt"

// Token types of tokenizer.ggml.token_type, as llama.cpp's llama_token_type
// and Ollama's model/vocabulary.go number them.
const (
	tokenNormal  int32 = 1
	tokenUnknown int32 = 2
	tokenControl int32 = 3
	tokenByte    int32 = 6
)

// Special token ids; the chat template and Ollama's runner depend on them.
const (
	unkID = 0
	bosID = 1
	eosID = 2
)

// specials come first so their ids are fixed; <|im_start|> and <|im_end|>
// are ChatML's turn markers, control tokens that the template writes.
var specials = [...]string{"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"}

// words are common English words, each with SentencePiece's "▁" word-start
// mark, so that generated text is readable word salad with spaces.
var words = [...]string{
	"the", "of", "and", "to", "in", "is", "it", "you", "that", "was",
	"for", "on", "are", "with", "as", "I", "his", "they", "be", "at",
	"one", "have", "this", "from", "or", "had", "by", "word", "but", "not",
	"what", "all", "were", "we", "when", "your", "can", "said", "there", "use",
	"an", "each", "which", "she", "do", "how", "their", "if", "will", "up",
	"other", "about", "out", "many", "then", "them", "these", "so", "some", "her",
	"would", "make", "like", "him", "into", "time", "has", "look", "two", "more",
	"write", "go", "see", "number", "no", "way", "could", "people", "my", "than",
	"first", "water", "been", "call", "who", "now", "find", "long", "down",
	"day", "did", "get", "come", "made", "may", "part", "sky", "blue", "hello",
	"world", "tiny", "model", "llama",
}

// punctuation that the model may emit after words.
var punctuation = [...]string{".", ",", "!", "?"}

// otherPieces are pieces the tokenizer can use for any input but the model
// never emits: more punctuation, single letters and digits.
const otherPieces = ":;'\"-()abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// vocab is the tokenizer: pieces, their scores and types, and which ids the
// output layer may produce.
type vocab struct {
	tokens   []string
	scores   []float32
	types    []int32
	emitting []bool // true for ids with a non-zero output row
}

// newVocab builds the 438-token SentencePiece vocabulary: specials, the 256
// byte-fallback tokens <0x00>…<0xFF> (so any UTF-8 input tokenizes), "▁",
// words, punctuation, letters and digits. Scores fall with the id, as in a
// trained SentencePiece model, so the tokenizer prefers the earlier, longer
// pieces when it merges.
func newVocab() *vocab {
	v := &vocab{}
	add := func(piece string, typ int32, score float32, emit bool) {
		v.tokens = append(v.tokens, piece)
		v.types = append(v.types, typ)
		v.scores = append(v.scores, score)
		v.emitting = append(v.emitting, emit)
	}
	add(specials[0], tokenUnknown, 0, false)
	for _, s := range specials[1:] {
		add(s, tokenControl, 0, false)
	}
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), tokenByte, 0, false)
	}
	score := func() float32 { return -float32(len(v.tokens) - 259) }
	add("▁", tokenNormal, score(), false)
	for _, w := range words {
		add("▁"+w, tokenNormal, score(), true)
	}
	for _, p := range punctuation {
		add(p, tokenNormal, score(), true)
	}
	for _, r := range otherPieces {
		add(string(r), tokenNormal, score(), false)
	}
	return v
}

// chatTemplate is ChatML, which `ollama create` recognises and turns into
// its own Go template (server/templates/chatml.gotmpl).
const chatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
