package dashboards

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// templateFields flattens the index template's mappings into field path →
// type ("http.response.status_code" → "long").
func templateFields(t *testing.T) (fields map[string]string, patterns []string) {
	t.Helper()
	data, err := os.ReadFile("elasticsearch/index-template.json")
	if err != nil {
		t.Fatal(err)
	}
	type prop struct {
		Type       string          `json:"type"`
		Properties map[string]prop `json:"properties"`
	}
	var tpl struct {
		IndexPatterns []string `json:"index_patterns"`
		Template      struct {
			Mappings struct {
				Properties map[string]prop `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("index template: %v", err)
	}
	fields = map[string]string{}
	var walk func(prefix string, ps map[string]prop)
	walk = func(prefix string, ps map[string]prop) {
		for name, p := range ps {
			if p.Type != "" {
				fields[prefix+name] = p.Type
			}
			walk(prefix+name+".", p.Properties)
		}
	}
	walk("", tpl.Template.Mappings.Properties)
	return fields, tpl.IndexPatterns
}

// TestIndexTemplateECS checks the index template maps the ECS fields the
// bridge's logs carry (issue 5, item 3) with the types searches need.
func TestIndexTemplateECS(t *testing.T) {
	fields, patterns := templateFields(t)
	want := map[string]string{
		"@timestamp":                "date_nanos",
		"log.level":                 "keyword",
		"message":                   "text",
		"service.name":              "keyword",
		"service.instance.id":       "keyword",
		"trace.id":                  "keyword",
		"http.request.id":           "keyword",
		"event.duration":            "long",
		"url.path":                  "keyword",
		"http.response.status_code": "long",
		"model":                     "keyword",
		"upstream":                  "keyword",
		"attempts":                  "integer",
	}
	for f, typ := range want {
		if got := fields[f]; got != typ {
			t.Errorf("index template: %s mapped as %q, want %q", f, got, typ)
		}
	}
	if !slices.Equal(patterns, []string{"dsbridge-logs-*"}) {
		t.Errorf("index_patterns %v, want [dsbridge-logs-*] (the sink's daily dsbridge-logs-YYYY.MM.DD)", patterns)
	}
}

// kqlField finds the field of each comparison in a KQL query: `field:`,
// `field >= n`.
var kqlField = regexp.MustCompile(`([@A-Za-z_][A-Za-z0-9_.]*)\s*(:|>=|<=|>|<)`)

// TestKibanaSavedObjects checks the NDJSON Kibana imports: one object a
// line with type, id and attributes; unique ids; every reference resolves
// inside the file; and every field a search, column, sort or chart names is
// mapped by the index template (a typo would show an empty view in Kibana,
// which cannot run here), with range queries only on numeric fields.
func TestKibanaSavedObjects(t *testing.T) {
	fields, patterns := templateFields(t)
	data, err := os.ReadFile("kibana/dsbridge.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Attributes map[string]any `json:"attributes"`
		References []struct {
			Name, Type, ID string
		} `json:"references"`
	}
	var objs []object
	ids := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var o object
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if o.Type == "" || o.ID == "" || o.Attributes == nil || o.Attributes["title"] == "" {
			t.Errorf("line %d: type, id and attributes.title are required", n)
		}
		if _, dup := ids[o.ID]; dup {
			t.Errorf("line %d: id %s repeated", n, o.ID)
		}
		ids[o.ID] = o.Type
		objs = append(objs, o)
	}
	checkField := func(where, f string) {
		if _, ok := fields[f]; !ok {
			t.Errorf("%s: field %q is not in the index template", where, f)
		}
	}
	numeric := map[string]bool{"long": true, "integer": true, "date": true, "date_nanos": true}
	types := map[string]int{}
	for _, o := range objs {
		types[o.Type]++
		for _, r := range o.References {
			if ids[r.ID] != r.Type {
				t.Errorf("%s %s: reference %s to %s %s, which the file does not hold", o.Type, o.ID, r.Name, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "index-pattern":
			if title := o.Attributes["title"]; !slices.Contains(patterns, title.(string)) {
				t.Errorf("data view %q does not match the template's index_patterns %v", title, patterns)
			}
			checkField("data view time field", o.Attributes["timeFieldName"].(string))
		case "search":
			for _, c := range o.Attributes["columns"].([]any) {
				checkField(o.ID+" column", c.(string))
			}
			for _, s := range o.Attributes["sort"].([]any) {
				checkField(o.ID+" sort", s.([]any)[0].(string))
			}
			var src struct {
				Query struct{ Query, Language string }
			}
			meta := o.Attributes["kibanaSavedObjectMeta"].(map[string]any)
			if err := json.Unmarshal([]byte(meta["searchSourceJSON"].(string)), &src); err != nil {
				t.Fatalf("%s searchSourceJSON: %v", o.ID, err)
			}
			if src.Query.Language != "kuery" || src.Query.Query == "" {
				t.Errorf("%s: want a non-empty KQL query, got %+v", o.ID, src.Query)
			}
			for _, m := range kqlField.FindAllStringSubmatch(src.Query.Query, -1) {
				checkField(o.ID+" query", m[1])
				if m[2] != ":" && !numeric[fields[m[1]]] {
					t.Errorf("%s: range query on %s, mapped %q", o.ID, m[1], fields[m[1]])
				}
			}
		case "visualization":
			var vis struct {
				Aggs []struct {
					Params map[string]any `json:"params"`
				} `json:"aggs"`
			}
			if err := json.Unmarshal([]byte(o.Attributes["visState"].(string)), &vis); err != nil {
				t.Fatalf("%s visState: %v", o.ID, err)
			}
			for _, a := range vis.Aggs {
				if f, ok := a.Params["field"].(string); ok {
					checkField(o.ID+" aggregation", f)
				}
			}
		case "dashboard":
			var panels []map[string]any
			if err := json.Unmarshal([]byte(o.Attributes["panelsJSON"].(string)), &panels); err != nil {
				t.Fatalf("%s panelsJSON: %v", o.ID, err)
			}
			if len(panels) != len(o.References) {
				t.Errorf("%s: %d panels, %d references", o.ID, len(panels), len(o.References))
			}
		}
	}
	for _, want := range []string{"index-pattern", "search", "visualization", "dashboard"} {
		if types[want] == 0 {
			t.Errorf("no %s object", want)
		}
	}
	// The three views issue 5 asks for.
	for _, title := range []string{"errors by instance", "slow requests", "failovers"} {
		found := false
		for _, o := range objs {
			if o.Type == "search" && strings.Contains(o.Attributes["title"].(string), title) {
				found = true
			}
		}
		if !found {
			t.Errorf("no saved search for %q", title)
		}
	}
}
