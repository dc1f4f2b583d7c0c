package promrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Alert is one alert Prometheus holds: pending (its expression is true but
// not yet for its `for:` duration) or firing.
type Alert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"` // pending or firing
	Labels      map[string]string `json:"labels"`
	ActiveAt    time.Time         `json:"active_at"`
	Value       float64           `json:"value"`
	Summary     string            `json:"summary,omitempty"`
	Description string            `json:"description,omitempty"`
}

// Alerts lists the alerts Prometheus holds now (/api/v1/alerts). Inactive
// alerting rules are not listed; Rules has them.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	resp, err := s.get(ctx, "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return decodeAlerts(resp.Body)
}

// decodeAlerts reads an /api/v1/alerts answer. Split from Alerts so that the
// format is tested without a server.
func decodeAlerts(r io.Reader) ([]Alert, error) {
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				State       string            `json:"state"`
				ActiveAt    time.Time         `json:"activeAt"`
				Value       string            `json:"value"` // the API encodes sample values as strings
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return nil, fmt.Errorf("promrun: alerts: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("promrun: alerts: %s", body.Error)
	}
	out := make([]Alert, 0, len(body.Data.Alerts))
	for _, a := range body.Data.Alerts {
		v, _ := strconv.ParseFloat(a.Value, 64)
		out = append(out, Alert{Name: a.Labels["alertname"], State: a.State, Labels: a.Labels, ActiveAt: a.ActiveAt,
			Value: v, Summary: a.Annotations["summary"], Description: a.Annotations["description"]})
	}
	return out, nil
}
