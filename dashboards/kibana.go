package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Kibana saved objects for the bridge's logs: a data view over the daily
// dsbridge-logs-* indices (elasticsearch/index-template.json maps them), the
// three log views an operator asks for (errors by instance, slow requests,
// failovers) as saved searches and charts, and a dashboard holding them.
// Written as NDJSON for Kibana's Saved Objects import (Stack Management →
// Saved objects → Import, or POST /api/saved_objects/_import). The objects
// declare the 7.10 shapes; Kibana migrates them on import, 7.10 through 8.x.

// kibanaDataView is the id every search and chart references.
const kibanaDataView = "dsbridge-logs"

// slowRequestNanos is the seed's latency threshold (500 ms) in event.duration's
// unit: ECS durations are nanoseconds.
const slowRequestNanos = 500_000_000

// kibanaObject is one line of the NDJSON export.
type kibanaObject struct {
	Type             string            `json:"type"`
	ID               string            `json:"id"`
	Attributes       map[string]any    `json:"attributes"`
	References       []kibanaReference `json:"references"`
	MigrationVersion map[string]string `json:"migrationVersion"`
}

type kibanaReference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// kibanaSearch is a saved search (a Discover view): a KQL query, the columns
// shown and the sort.
type kibanaSearch struct {
	id, title, description, query string
	columns                       []string
	sort                          [2]string // field, direction
}

// kibanaSearches are the log views. The queries use only fields the index
// template maps; kibana_test.go checks that.
func kibanaSearches() []kibanaSearch {
	return []kibanaSearch{
		{
			id:    "dsbridge-errors",
			title: "dsbridge: errors by instance",
			description: "Error and warning lines and every 5xx answer, newest first. The bridge logs a 5xx request at warn " +
				"and its own failures at error; the BridgeErrorLogsHigh alert counts error lines.",
			query:   `log.level:(error or warn) or http.response.status_code >= 500`,
			columns: []string{"service.instance.id", "log.level", "http.response.status_code", "url.path", "model", "upstream", "message", "error.message", "http.request.id"},
			sort:    [2]string{"@timestamp", "desc"},
		},
		{
			id:          "dsbridge-slow-requests",
			title:       "dsbridge: slow requests",
			description: fmt.Sprintf("Requests that took longer than the seed's 500 ms (event.duration is in nanoseconds: > %d), slowest first.", slowRequestNanos),
			query:       fmt.Sprintf(`event.duration > %d`, slowRequestNanos),
			columns:     []string{"service.instance.id", "url.path", "model", "upstream", "event.duration", "attempts", "http.response.status_code", "http.request.id", "trace.id"},
			sort:        [2]string{"event.duration", "desc"},
		},
		{
			id:          "dsbridge-failovers",
			title:       "dsbridge: failovers",
			description: "Requests the bridge sent to more than one upstream (attempts > 1); upstream is the one that answered.",
			query:       `attempts > 1`,
			columns:     []string{"service.instance.id", "url.path", "model", "attempts", "upstream", "http.response.status_code", "event.duration", "http.request.id", "trace.id"},
			sort:        [2]string{"@timestamp", "desc"},
		},
	}
}

// kibanaChart is an aggregation-based chart over a saved search: count per
// time bucket, split by a terms field.
type kibanaChart struct {
	id, title, search, splitField string
}

func kibanaCharts() []kibanaChart {
	return []kibanaChart{
		{id: "dsbridge-errors-by-instance", title: "dsbridge: errors by instance", search: "dsbridge-errors", splitField: "service.instance.id"},
		{id: "dsbridge-slow-requests-by-path", title: "dsbridge: slow requests by path", search: "dsbridge-slow-requests", splitField: "url.path"},
		{id: "dsbridge-failovers-by-upstream", title: "dsbridge: failovers by answering upstream", search: "dsbridge-failovers", splitField: "upstream"},
	}
}

// KibanaNDJSON renders every saved object, one JSON document a line.
func KibanaNDJSON() ([]byte, error) {
	objs := []kibanaObject{{
		Type: "index-pattern", ID: kibanaDataView,
		Attributes: map[string]any{
			"title":         "dsbridge-logs-*",
			"timeFieldName": "@timestamp",
			// event.duration is nanoseconds: show it as a duration.
			"fieldFormatMap": mustJSON(map[string]any{
				"event.duration": map[string]any{"id": "duration", "params": map[string]any{"inputFormat": "nanoseconds", "outputFormat": "humanizePrecise"}},
			}),
		},
		References:       []kibanaReference{},
		MigrationVersion: map[string]string{"index-pattern": "7.6.0"},
	}}
	for _, s := range kibanaSearches() {
		objs = append(objs, kibanaObject{
			Type: "search", ID: s.id,
			Attributes: map[string]any{
				"title":       s.title,
				"description": s.description,
				"hits":        0,
				"version":     1,
				"columns":     s.columns,
				"sort":        [][2]string{s.sort},
				"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": mustJSON(map[string]any{
					"query":        map[string]any{"query": s.query, "language": "kuery"},
					"filter":       []any{},
					"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
				})},
			},
			References:       []kibanaReference{{Name: "kibanaSavedObjectMeta.searchSourceJSON.index", Type: "index-pattern", ID: kibanaDataView}},
			MigrationVersion: map[string]string{"search": "7.9.3"},
		})
	}
	var panels []any
	var dashRefs []kibanaReference
	for i, c := range kibanaCharts() {
		objs = append(objs, kibanaObject{
			Type: "visualization", ID: c.id,
			Attributes: map[string]any{
				"title":       c.title,
				"description": "",
				"version":     1,
				"visState": mustJSON(map[string]any{
					"title": c.title, "type": "histogram",
					"params": map[string]any{"type": "histogram", "addLegend": true, "legendPosition": "right", "addTooltip": true},
					"aggs": []any{
						map[string]any{"id": "1", "enabled": true, "type": "count", "schema": "metric", "params": map[string]any{}},
						map[string]any{"id": "2", "enabled": true, "type": "date_histogram", "schema": "segment",
							"params": map[string]any{"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": map[string]any{}}},
						map[string]any{"id": "3", "enabled": true, "type": "terms", "schema": "group",
							"params": map[string]any{"field": c.splitField, "size": 20, "order": "desc", "orderBy": "1", "otherBucket": true, "missingBucket": true}},
					},
				}),
				"uiStateJSON":        "{}",
				"savedSearchRefName": "search_0",
				"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": mustJSON(map[string]any{
					"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{},
				})},
			},
			References:       []kibanaReference{{Name: "search_0", Type: "search", ID: c.search}},
			MigrationVersion: map[string]string{"visualization": "7.10.0"},
		})
		// Charts on the left, their searches' rows on the right.
		for j, ref := range []kibanaReference{{Type: "visualization", ID: c.id}, {Type: "search", ID: c.search}} {
			n := len(dashRefs)
			ref.Name = fmt.Sprintf("panel_%d", n)
			dashRefs = append(dashRefs, ref)
			panels = append(panels, map[string]any{
				"version": "7.10.0", "panelIndex": fmt.Sprint(n + 1), "panelRefName": ref.Name, "embeddableConfig": map[string]any{},
				"gridData": map[string]any{"x": j * 24, "y": i * 15, "w": 24, "h": 15, "i": fmt.Sprint(n + 1)},
			})
		}
	}
	objs = append(objs, kibanaObject{
		Type: "dashboard", ID: "dsbridge-logs-dashboard",
		Attributes: map[string]any{
			"title":       "dsbridge: logs",
			"hits":        0,
			"version":     1,
			"description": "Errors by instance, slow requests and failovers from the bridges' JSON logs.",
			"panelsJSON":  mustJSON(panels),
			"optionsJSON": mustJSON(map[string]any{"useMargins": true, "hidePanelTitles": false}),
			"timeRestore": true, "timeFrom": "now-1h", "timeTo": "now", "refreshInterval": map[string]any{"pause": false, "value": 30000},
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": mustJSON(map[string]any{
				"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{},
			})},
		},
		References:       dashRefs,
		MigrationVersion: map[string]string{"dashboard": "7.9.3"},
	})

	var buf bytes.Buffer
	for _, o := range objs {
		line, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("kibana %s %s: %w", o.Type, o.ID, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// mustJSON encodes the JSON-in-a-string attributes Kibana keeps
// (searchSourceJSON, visState, panelsJSON). Its inputs are this file's own
// literals, so a failure is a programming error.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
