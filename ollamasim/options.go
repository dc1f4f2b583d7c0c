package ollamasim

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ollama/ollama/api"
)

// optionKinds maps each Ollama option name (api.Options' JSON tags) to its
// Go kind, so requests can be checked the way api.Options.FromMap checks
// them, without FromMap's per-call reflection over the whole struct.
type optionKinds map[string]reflect.Kind

func newOptionKinds() optionKinds {
	k := optionKinds{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[api.Options]()) {
		if tag := strings.Split(f.Tag.Get("json"), ",")[0]; tag != "" && tag != "-" {
			k[tag] = f.Type.Kind()
		}
	}
	return k
}

// check returns FromMap's error for a wrongly typed option (Ollama answers
// it with 500 from scheduleRunner). Unknown options are ignored, as there.
// Go ints count as numbers: Ollama's OpenAI middleware puts them in and a
// JSON round trip makes them float64 before FromMap sees them.
func (k optionKinds) check(m map[string]any) error {
	for key, val := range m {
		kind, ok := k[key]
		if !ok || val == nil {
			continue
		}
		switch kind {
		case reflect.Int:
			if !isNumber(val) {
				return fmt.Errorf("option %q must be of type integer", key)
			}
		case reflect.Bool, reflect.Pointer:
			if _, ok := val.(bool); !ok {
				return fmt.Errorf("option %q must be of type boolean", key)
			}
		case reflect.Float32:
			if !isNumber(val) {
				return fmt.Errorf("option %q must be of type float32", key)
			}
		case reflect.String:
			if _, ok := val.(string); !ok {
				return fmt.Errorf("option %q must be of type string", key)
			}
		case reflect.Slice:
			switch v := val.(type) {
			case []string:
			case []any:
				for _, item := range v {
					if _, ok := item.(string); !ok {
						return fmt.Errorf("option %q must be of an array of strings", key)
					}
				}
			default:
				return fmt.Errorf("option %q must be of type array", key)
			}
		}
	}
	return nil
}

// isNumber: what a JSON round trip turns into float64.
func isNumber(v any) bool {
	switch v.(type) {
	case float64, float32, int, int64, int32:
		return true
	}
	return false
}
