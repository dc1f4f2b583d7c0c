package promrun

import (
	"strings"
	"testing"
)

// An /api/v1/alerts answer as Prometheus 2.x writes it: the alert's name
// comes from its alertname label, the value from its string encoding.
func TestDecodeAlerts(t *testing.T) {
	const body = `{"status":"success","data":{"alerts":[
	  {"labels":{"alertname":"BridgeDown","instance":"bridge-1","severity":"critical"},
	   "annotations":{"summary":"bridge-1 is down"},
	   "state":"firing","activeAt":"2026-11-27T00:00:01.5Z","value":"0e+00"},
	  {"labels":{"alertname":"BridgeHighErrorRate"},"annotations":{},
	   "state":"pending","activeAt":"2026-11-27T00:00:02Z","value":"0.25"}]}}`
	got, err := decodeAlerts(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2: %+v", len(got), got)
	}
	if a := got[0]; a.Name != "BridgeDown" || a.State != "firing" || a.Labels["instance"] != "bridge-1" || a.Summary != "bridge-1 is down" || a.ActiveAt.IsZero() {
		t.Errorf("first alert = %+v", a)
	}
	if a := got[1]; a.Name != "BridgeHighErrorRate" || a.State != "pending" || a.Value != 0.25 {
		t.Errorf("second alert = %+v", a)
	}
	if _, err := decodeAlerts(strings.NewReader(`{"status":"error","error":"boom"}`)); err == nil {
		t.Error("an error answer was accepted")
	}
}
