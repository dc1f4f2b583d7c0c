// Command openapi2jsonschema turns Kubernetes' OpenAPI v2 spec
// (api/openapi-spec/swagger.json in the k8s.io/kubernetes module) into the
// standalone strict JSON schemas kubeconform reads, one file per kind and
// version, named as kubeconform's {{.ResourceKind}}{{.KindSuffix}} template
// expects (deployment-apps-v1.json, service-v1.json, …). It does what
// yannh/kubernetes-json-schema's openapi2jsonschema.py does with
// --strict --stand-alone --kubernetes: every object with properties gets
// additionalProperties: false (an unknown field is an error), int-or-string
// fields accept both, and each file carries the definitions it refers to.
//
//	openapi2jsonschema --spec swagger.json --out DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	spec := flag.String("spec", "", "Kubernetes OpenAPI v2 spec (swagger.json)")
	out := flag.String("out", "", "directory to write the schemas into")
	flag.Parse()
	if *spec == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	n, err := run(*spec, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi2jsonschema:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "openapi2jsonschema: %d schemas in %s\n", n, *out)
}

const refPrefix = "#/definitions/"

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

func run(specPath, outDir string) (int, error) {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return 0, err
	}
	var spec struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return 0, fmt.Errorf("%s: %w", specPath, err)
	}
	defs := spec.Definitions
	if len(defs) == 0 {
		return 0, errors.New("no definitions in the spec")
	}
	for name, d := range defs {
		defs[name] = fix(d).(map[string]any)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		kinds, err := gvks(defs[name])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		for _, k := range kinds {
			if k.Kind == "" {
				continue
			}
			schema := standalone(defs, name, k)
			data, err := json.Marshal(schema)
			if err != nil {
				return 0, err
			}
			if err := os.WriteFile(filepath.Join(outDir, fileName(k)), data, 0o644); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// fileName is kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json: the
// kind in lower case, the group's first label (none for the core group)
// and the version.
func fileName(k gvk) string {
	suffix := "-" + strings.ToLower(k.Version)
	if k.Group != "" {
		first, _, _ := strings.Cut(k.Group, ".")
		suffix = "-" + strings.ToLower(first) + suffix
	}
	return strings.ToLower(k.Kind) + suffix + ".json"
}

func gvks(def map[string]any) ([]gvk, error) {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var out []gvk
	return out, json.Unmarshal(b, &out)
}

// fix rewrites one schema (recursively) the way kubeconform's schemas are
// made: int-or-string accepts an integer or a string, a Quantity a string
// or a number (as the API server does), and every object that lists its
// properties allows no others.
func fix(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["format"] == "int-or-string" {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := make(map[string]any, len(x)+1)
		for k, e := range x {
			if k == "properties" || k == "definitions" || k == "patternProperties" {
				props := map[string]any{}
				for pk, pv := range e.(map[string]any) {
					props[pk] = fix(pv)
				}
				out[k] = props
				continue
			}
			out[k] = fix(e)
		}
		if _, ok := out["properties"]; ok {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fix(e)
		}
		return out
	}
	return v
}

// standalone is the schema of one kind: the definition itself, its
// apiVersion and kind pinned, and every definition it refers to,
// transitively, under "definitions".
func standalone(defs map[string]map[string]any, name string, k gvk) map[string]any {
	schema := maps.Clone(defs[name])
	if props, ok := schema["properties"].(map[string]any); ok {
		props = maps.Clone(props)
		apiVersion := k.Version
		if k.Group != "" {
			apiVersion = k.Group + "/" + k.Version
		}
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
		schema["properties"] = props
	}
	referenced := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
				target := strings.TrimPrefix(ref, refPrefix)
				if _, seen := referenced[target]; !seen {
					if d, ok := defs[target]; ok {
						referenced[target] = d
						walk(d)
					}
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(schema)
	if q := "io.k8s.apimachinery.pkg.api.resource.Quantity"; referenced[q] != nil {
		referenced[q] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	}
	schema["$schema"] = "http://json-schema.org/schema#"
	if _, ok := schema["type"]; !ok {
		schema["type"] = "object"
	}
	schema["definitions"] = referenced
	return schema
}
