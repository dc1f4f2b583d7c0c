package bench

import (
	"bytes"
	"html/template"
	"regexp"
	"strings"
)

// HTML renders report.html: one self-contained file. The markdown summary is
// turned into HTML by a small converter that knows exactly what Markdown
// writes (headings, paragraphs, tables, lists, bold, code), and the charts are
// inline SVG. Nothing is fetched when it opens.
func HTML(r *Results) ([]byte, error) {
	type chart struct {
		Title string
		SVG   template.HTML
	}
	var charts []chart
	add := func(title string, svg string, err error) error {
		if err != nil {
			return err
		}
		if svg != "" {
			// The SVG comes from gonum/plot, not from user input.
			charts = append(charts, chart{title, template.HTML(svg)})
		}
		return nil
	}
	s, err := ThroughputChart(r)
	if err := add("Throughput and errors, chaos events marked (grey: injected, green: reverted)", s, err); err != nil {
		return nil, err
	}
	s, err = LatencyChart(r)
	if err := add("Latency percentiles over time", s, err); err != nil {
		return nil, err
	}
	s, err = DistChart("Time to first token (ms)", r.TTFTMs)
	if err := add("TTFT distribution", s, err); err != nil {
		return nil, err
	}
	s, err = DistChart("Inter-token latency (ms)", r.ITLMs)
	if err := add("ITL distribution", s, err); err != nil {
		return nil, err
	}
	s, err = ShareChart(r)
	if err := add("Traffic share per upstream", s, err); err != nil {
		return nil, err
	}
	verdict, class := "PASS", "pass"
	switch {
	case r.Error != "":
		verdict, class = "BROKEN", "fail"
	case !r.Pass:
		verdict, class = "FAIL", "fail"
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"R": r, "Verdict": verdict, "Class": class, "Charts": charts,
		"Body": template.HTML(mdToHTML(Markdown(r))),
	})
	return buf.Bytes(), err
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>dsbridge bench: {{.R.Scenario}} — {{.Verdict}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}code{background:#f3f3f3;padding:0 .2em}
.verdict{display:inline-block;padding:.2em .8em;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2a2}.fail{background:#c22}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure{margin:0}figcaption{font-size:.9em;color:#555}
</style></head><body>
<p><span class="verdict {{.Class}}">{{.Verdict}}</span></p>
<div class="charts">{{range .Charts}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>{{end}}</div>
{{.Body}}
</body></html>
`))

var (
	mdBold = regexp.MustCompile(`\*\*(.+?)\*\*`)
	mdCode = regexp.MustCompile("`([^`]+)`")
)

// mdInline escapes text and renders **bold** and `code`.
func mdInline(s string) string {
	s = template.HTMLEscapeString(s)
	s = mdBold.ReplaceAllString(s, "<strong>$1</strong>")
	return mdCode.ReplaceAllString(s, "<code>$1</code>")
}

// splitRow splits a table row into its cells at the pipes that are not
// escaped (\|, which a PromQL regexp needs), and unescapes the others.
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, cur.String())
}

// mdToHTML converts the subset of markdown that Markdown produces.
func mdToHTML(md string) string {
	var b strings.Builder
	lines := strings.Split(md, "\n")
	inList := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if inList && !strings.HasPrefix(l, "- ") {
			b.WriteString("</ul>\n")
			inList = false
		}
		switch {
		case strings.HasPrefix(l, "# "):
			b.WriteString("<h1>" + mdInline(l[2:]) + "</h1>\n")
		case strings.HasPrefix(l, "## "):
			b.WriteString("<h2>" + mdInline(l[3:]) + "</h2>\n")
		case strings.HasPrefix(l, "- "):
			if !inList {
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + mdInline(l[2:]) + "</li>\n")
		case strings.HasPrefix(l, "|"):
			b.WriteString("<table>\n")
			header := true
			for ; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
				cells := splitRow(lines[i])
				if strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
					continue
				}
				tag := "td"
				if header {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					b.WriteString("<" + tag + ">" + mdInline(strings.TrimSpace(c)) + "</" + tag + ">")
				}
				b.WriteString("</tr>\n")
				header = false
			}
			i--
			b.WriteString("</table>\n")
		case strings.TrimSpace(l) == "":
		default:
			b.WriteString("<p>" + mdInline(l) + "</p>\n")
		}
	}
	if inList {
		b.WriteString("</ul>\n")
	}
	return b.String()
}
