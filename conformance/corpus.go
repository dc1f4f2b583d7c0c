package conformance

import "strings"

// Corpus is the sequence of requests sent, in this order, to a fresh real
// Ollama that has just created the model `tiny`, and to a fresh simulator
// serving `tiny`. Order matters: the first generation is cold (it loads the
// model), later ones are warm, and the keep_alive steps unload it.
//
// Generation is bounded by num_predict ≤ 31: the tiny model rarely stops by
// itself, and Ollama ends a stream with no final line once one token repeats
// more than 30 times (golden transcript 26).
func Corpus() []Request {
	const (
		opts   = `"options":{"num_predict":8,"seed":42}`
		prompt = `"prompt":"Why is the sky blue?"`
		msgs   = `"messages":[{"role":"user","content":"Why is the sky blue?"}]`
	)
	return []Request{
		// Discovery, before anything is loaded.
		{Name: "root", Path: "/"},
		{Name: "root_head", Method: "HEAD", Path: "/"},
		{Name: "version", Path: "/api/version"},
		{Name: "version_head", Method: "HEAD", Path: "/api/version"},
		{Name: "tags", Path: "/api/tags"},
		{Name: "ps_empty", Path: "/api/ps", Note: "nothing loaded yet"},
		{Name: "openai_models", Path: "/v1/models"},
		{Name: "openai_model", Path: "/v1/models/tiny"},
		{Name: "show", Body: `{"model":"tiny"}`, Path: "/api/show"},

		// Native generation: cold, warm, streamed, raw, load-only.
		{Name: "generate_nonstream_cold", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,"stream":false,` + opts + `}`},
		{Name: "generate_nonstream_warm", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,"stream":false,` + opts + `}`},
		{Name: "generate_stream", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,` + opts + `}`, Note: "stream omitted means streamed"},
		{Name: "generate_raw", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,"raw":true,"stream":false,` + opts + `}`, Note: "raw: no context array"},
		{Name: "generate_system", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,"system":"Be brief.","stream":false,` + opts + `}`},
		{Name: "generate_load", Path: "/api/generate", Body: `{"model":"tiny"}`, Note: "no prompt: load, done_reason load"},

		// Native chat.
		{Name: "chat_nonstream", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"stream":false,` + opts + `}`},
		{Name: "chat_stream", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,` + opts + `}`},
		{Name: "chat_stream_true", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"stream":true,` + opts + `}`},
		{Name: "chat_load", Path: "/api/chat", Body: `{"model":"tiny","messages":[]}`, Note: "empty messages: load"},
		{Name: "chat_multiturn", Path: "/api/chat", Body: `{"model":"tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello"},{"role":"assistant","content":"hello world"},{"role":"user","content":"and then?"}],"stream":false,` + opts + `}`},
		{Name: "chat_format_json", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"format":"json","stream":false,` + opts + `}`},
		{Name: "chat_tools_unsupported", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{}}}}],"stream":false,` + opts + `}`, Note: "ChatML template has no tools"},
		{Name: "chat_think_unsupported", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"think":true,"stream":false,` + opts + `}`},

		// OpenAI-compatible API.
		{Name: "openai_chat_nonstream", Path: "/v1/chat/completions", Body: `{"model":"tiny",` + msgs + `,"max_tokens":8,"seed":42}`},
		{Name: "openai_chat_stream", Path: "/v1/chat/completions", Body: `{"model":"tiny",` + msgs + `,"max_tokens":8,"seed":42,"stream":true}`},
		{Name: "openai_chat_stream_usage", Path: "/v1/chat/completions", Body: `{"model":"tiny",` + msgs + `,"max_tokens":8,"seed":42,"stream":true,"stream_options":{"include_usage":true}}`},
		{Name: "openai_completions_nonstream", Path: "/v1/completions", Body: `{"model":"tiny",` + prompt + `,"max_tokens":8,"seed":42}`},
		{Name: "openai_completions_stream", Path: "/v1/completions", Body: `{"model":"tiny",` + prompt + `,"max_tokens":8,"seed":42,"stream":true}`},
		{Name: "openai_responses_nonstream", Path: "/v1/responses", Body: `{"model":"tiny","input":"Why is the sky blue?","max_output_tokens":8}`},
		{Name: "openai_responses_stream", Path: "/v1/responses", Body: `{"model":"tiny","input":"Why is the sky blue?","max_output_tokens":8,"stream":true}`},
		{Name: "anthropic_messages_nonstream", Path: "/v1/messages", Body: `{"model":"tiny",` + msgs + `,"max_tokens":8}`},
		{Name: "anthropic_messages_stream", Path: "/v1/messages", Body: `{"model":"tiny",` + msgs + `,"max_tokens":8,"stream":true}`},

		// Edges of the options.
		{Name: "generate_images_unsupported", Path: "/api/generate", Body: `{"model":"tiny",` + prompt + `,"images":["aGVsbG8="],"stream":false,` + opts + `}`, Note: "not a vision model"},
		{Name: "err_bad_keep_alive", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"keep_alive":"soon"}`},

		// Embeddings.
		{Name: "embed_dimensions", Path: "/api/embed", Body: `{"model":"tiny","input":"hello world","dimensions":16}`},
		{Name: "err_embed_too_long", Path: "/api/embed", Body: `{"model":"tiny","input":"` + strings.Repeat("hello ", 600) + `","truncate":false}`, Note: "600 tokens > context 512"},
		{Name: "embed_truncated", Path: "/api/embed", Body: `{"model":"tiny","input":"` + strings.Repeat("hello ", 600) + `"}`, Note: "truncate defaults to true"},
		{Name: "embed", Path: "/api/embed", Body: `{"model":"tiny","input":"hello world"}`},
		{Name: "embed_batch", Path: "/api/embed", Body: `{"model":"tiny","input":["hello","world"]}`},
		{Name: "embeddings_legacy", Path: "/api/embeddings", Body: `{"model":"tiny","prompt":"hello world"}`},
		{Name: "openai_embeddings", Path: "/v1/embeddings", Body: `{"model":"tiny","input":"hello world"}`},

		// What is loaded, and keep_alive.
		{Name: "ps_loaded", Path: "/api/ps", Note: "loaded, default keep_alive 5m"},
		{Name: "chat_keepalive_10s", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"stream":false,"keep_alive":"10s",` + opts + `}`},
		{Name: "ps_keepalive_10s", Path: "/api/ps", Note: "expires_at ≈ Date + 10s"},
		{Name: "generate_keepalive_forever", Path: "/api/generate", Body: `{"model":"tiny","keep_alive":-1}`},
		{Name: "ps_keepalive_forever", Path: "/api/ps"},
		{Name: "generate_unload", Path: "/api/generate", Body: `{"model":"tiny","keep_alive":0}`, Note: "done_reason unload"},
		{Name: "ps_after_unload", Path: "/api/ps", Until: `"models":[]`, Note: "real Ollama lists the model until its runner has stopped"},
		{Name: "chat_unload", Path: "/api/chat", Body: `{"model":"tiny","messages":[],"keep_alive":0}`},

		// Model management that needs no network.
		{Name: "copy", Path: "/api/copy", Body: `{"source":"tiny","destination":"tiny-copy"}`},
		{Name: "tags_after_copy", Path: "/api/tags"},
		{Name: "delete", Method: "DELETE", Path: "/api/delete", Body: `{"model":"tiny-copy"}`},
		{Name: "err_delete_unknown", Method: "DELETE", Path: "/api/delete", Body: `{"model":"tiny-copy"}`},
		{Name: "err_copy_unknown", Path: "/api/copy", Body: `{"source":"nope","destination":"x"}`},

		// Browsers: CORS for a localhost origin, which Ollama allows by default.
		{Name: "cors_preflight", Method: "OPTIONS", Path: "/api/chat", Header: map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}},
		{Name: "cors_simple", Path: "/api/version", Header: map[string]string{"Origin": "http://localhost:3000"}},
		{Name: "cors_foreign_origin", Path: "/api/version", Header: map[string]string{"Origin": "http://example.com"}},

		// Errors.
		{Name: "err_unknown_model_chat", Path: "/api/chat", Body: `{"model":"nope",` + msgs + `}`},
		{Name: "err_unknown_model_generate", Path: "/api/generate", Body: `{"model":"nope",` + prompt + `}`},
		{Name: "err_unknown_model_embed", Path: "/api/embed", Body: `{"model":"nope","input":"x"}`},
		{Name: "err_unknown_model_show", Path: "/api/show", Body: `{"model":"nope"}`},
		{Name: "err_unknown_model_openai", Path: "/v1/chat/completions", Body: `{"model":"nope",` + msgs + `}`},
		{Name: "err_unknown_model_openai_stream", Path: "/v1/chat/completions", Body: `{"model":"nope",` + msgs + `,"stream":true}`},
		{Name: "err_unknown_model_openai_model", Path: "/v1/models/nope"},
		{Name: "err_missing_model_chat", Path: "/api/chat", Body: `{` + msgs + `}`},
		{Name: "err_missing_model_generate", Path: "/api/generate", Body: `{` + prompt + `}`},
		{Name: "err_malformed_json_chat", Path: "/api/chat", Body: `{"model":"tiny",`},
		{Name: "err_malformed_json_generate", Path: "/api/generate", Body: `{"model":`},
		{Name: "err_malformed_json_openai", Path: "/v1/chat/completions", Body: `{"model":"tiny",`},
		{Name: "err_wrong_type_chat", Path: "/api/chat", Body: `{"model":"tiny",` + msgs + `,"stream":"yes"}`},
		{Name: "err_empty_body_chat", Method: "POST", Path: "/api/chat"},
		{Name: "err_empty_body_generate", Method: "POST", Path: "/api/generate"},
		{Name: "err_empty_body_embed", Method: "POST", Path: "/api/embed"},
		{Name: "err_openai_no_messages", Path: "/v1/chat/completions", Body: `{"model":"tiny"}`},
		{Name: "err_wrong_method_chat", Method: "GET", Path: "/api/chat"},
		{Name: "err_wrong_method_tags", Method: "POST", Path: "/api/tags", Body: `{}`},
		{Name: "err_unknown_path", Path: "/api/nope"},
	}
}
