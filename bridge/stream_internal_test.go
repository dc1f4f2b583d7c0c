package bridge

import "testing"

// TestTokenScanSplits feeds answers cut at every byte pair, so keys and
// numbers split across chunks are covered, and checks look-alike keys do
// not count.
func TestTokenScanSplits(t *testing.T) {
	cases := []struct {
		key  []byte
		body string
		want int64
	}{
		{evalCountKey, `{"message":{"content":"a"},"done":false}` + "\n" +
			`{"done":true,"prompt_eval_count":12,"eval_count":1234,"eval_duration":5}` + "\n", 1234},
		{evalCountKey, `{"response":"say \"eval_count\":7","done":true,"context":[1,2,3],"eval_count": 32}`, 32},
		{evalCountKey, `{"done":true,"prompt_eval_count":9}`, 0},
		{completionTokensKey, "data: {\"choices\":[]}\n\ndata: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":17,\"completion_tokens_details\":{}}}\n\ndata: [DONE]\n\n", 17},
		{completionTokensKey, `{"usage":{"completion_tokens":5}}`, 5},
	}
	for _, c := range cases {
		b := []byte(c.body)
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				s := tokenScan{key: c.key}
				for _, part := range [][]byte{b[:i], b[i:j], b[j:]} {
					if len(part) > 0 {
						s.scan(part)
					}
				}
				if s.total != c.want {
					t.Fatalf("%s cut at %d,%d: %d tokens, want %d", c.body, i, j, s.total, c.want)
				}
			}
		}
	}
}

// TestTokenScanAllocs: the scan is on the hot path and must not allocate.
func TestTokenScanAllocs(t *testing.T) {
	chunk := []byte(`{"done":true,"eval_count":1234,"eval_duration":5}` + "\n")
	s := tokenScan{key: evalCountKey}
	if a := testing.AllocsPerRun(100, func() { s.scan(chunk[:20]); s.scan(chunk[20:]) }); a != 0 {
		t.Errorf("%v allocs per scan", a)
	}
}
