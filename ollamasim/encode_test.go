package ollamasim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/openai"
)

// TestFastFramesMatchMarshal: the hand-appended token frames are byte for
// byte what json.Marshal writes for Ollama's own types.
func TestFastFramesMatchMarshal(t *testing.T) {
	now := time.Date(2026, 11, 26, 21, 21, 23, 187525178, time.UTC)
	round := time.Date(2026, 11, 26, 21, 21, 23, 0, time.UTC)
	for _, text := range []string{" she", "", "?", ` "quoted"`, "a\\b", "<tag>&", "tab\there", "nl\n", "é ü 日本", "\u2028", "bad\xffutf8", "\x00"} {
		for _, thinking := range []bool{false, true} {
			for _, model := range []string{"tiny", "llama3.2:3b", `we"ird`} {
				for _, ts := range []time.Time{now, round} {
					want, _ := json.Marshal(api.ChatResponse{Model: model, CreatedAt: ts, Message: message(text, thinking)})
					if got := appendChatToken(nil, model, ts, text, thinking); string(got) != string(want)+"\n" {
						t.Errorf("chat %q %v:\n got %s\nwant %s", text, thinking, got, want)
					}
					g := api.GenerateResponse{Model: model, CreatedAt: ts, Response: text}
					if thinking {
						g = api.GenerateResponse{Model: model, CreatedAt: ts, Thinking: text}
					}
					want, _ = json.Marshal(g)
					if got := appendGenerateToken(nil, model, ts, text, thinking); string(got) != string(want)+"\n" {
						t.Errorf("generate %q %v:\n got %s\nwant %s", text, thinking, got, want)
					}
					want, _ = json.Marshal(openai.ToChunk("chatcmpl-7", api.ChatResponse{Model: model, CreatedAt: ts, Message: message(text, thinking)}, false))
					if got := appendOpenAIChatToken(nil, "chatcmpl-7", model, time.Now().Unix(), text, thinking); string(got) != "data: "+string(want)+"\n\n" {
						t.Errorf("openai %q %v:\n got %s\nwant %s", text, thinking, got, want)
					}
				}
			}
		}
	}
}
