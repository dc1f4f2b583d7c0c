package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// FirstModel returns the first model GET base/api/tags lists: the default
// mix's model when none is given, as DESIGN.md says.
func FirstModel(ctx context.Context, hc *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/tags", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("list models: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("list models: GET /api/tags: %s", resp.Status)
	}
	var tags struct {
		Models []struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"models"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&tags); err != nil {
		return "", fmt.Errorf("list models: %w", err)
	}
	for _, m := range tags.Models {
		if m.Name != "" {
			return m.Name, nil
		}
		if m.Model != "" {
			return m.Model, nil
		}
	}
	return "", errors.New("list models: the server has no models (GET /api/tags is empty)")
}
