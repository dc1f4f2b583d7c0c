package bench

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteAll writes results.json, report.md and report.html into dir.
func WriteAll(r *Results, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md := Markdown(r)
	html, herr := HTML(r)
	return errors.Join(
		r.WriteJSON(dir),
		os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644),
		herr,
		os.WriteFile(filepath.Join(dir, "report.html"), html, 0o644),
	)
}
