package web_test

import (
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/web"
)

// luminance is the relative luminance of a #rrggbb colour (WCAG 2).
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q is not #rrggbb", hex)
	}
	var c [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// TestContrast reads the stylesheet's colours and checks every pair the
// pages put text on: 4.5:1 for text, 3:1 for the focus outline.
func TestContrast(t *testing.T) {
	css, err := os.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	colours := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6});`).FindAllStringSubmatch(string(css), -1) {
		colours[m[1]] = m[2]
	}
	ratio := func(a, b string) float64 {
		ca, cb := colours[a], colours[b]
		if ca == "" || cb == "" {
			t.Fatalf("no colour --%s or --%s in app.css", a, b)
		}
		la, lb := luminance(t, ca), luminance(t, cb)
		return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
	}
	for _, c := range []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"fg", "panel", 4.5}, {"muted", "bg", 4.5}, {"muted", "panel", 4.5},
		{"accent", "bg", 4.5}, {"accent", "panel", 4.5}, {"accent-fg", "accent", 4.5}, {"accent-fg", "danger", 4.5},
		{"danger", "bg", 4.5}, {"err-fg", "bg", 4.5}, {"err-fg", "panel", 4.5}, {"ok-fg", "ok-bg", 4.5},
		{"focus", "bg", 3}, {"focus", "panel", 3},
	} {
		if r := ratio(c.fg, c.bg); r < c.min {
			t.Errorf("--%s on --%s: %.2f:1, want at least %.1f:1", c.fg, c.bg, r, c.min)
		}
	}
}

// TestPagesAccessible checks the shared layout and the metrics list: a
// skip link first, the landmarks, and a label for every field.
func TestPagesAccessible(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	f.metric("alpha", "Alpha")
	br := f.browser()
	signIn := br.do(http.MethodGet, "/sign-in", nil)
	br.mustSignIn(adminToken)
	list := br.do(http.MethodGet, "/projects/default/metrics?kind=bogus", nil)
	field := regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	id := regexp.MustCompile(`\bid="([^"]+)"`)
	for name, page := range map[string]string{"sign-in": signIn.body, "metrics": list.body} {
		body := page[strings.Index(page, "<body>"):]
		if first := regexp.MustCompile(`<a [^>]*>`).FindString(body); !strings.Contains(first, `href="#main"`) {
			t.Errorf("%s: the first link is %s, want the skip link", name, first)
		}
		if !strings.Contains(body, `<main id="main"`) || !strings.Contains(body, "<header") {
			t.Errorf("%s: no header or main landmark", name)
		}
		for _, el := range field.FindAllString(body, -1) {
			if strings.Contains(el, `type="hidden"`) {
				continue
			}
			m := id.FindStringSubmatch(el)
			if m == nil || !strings.Contains(body, `<label for="`+m[1]+`"`) {
				t.Errorf("%s: field without a label: %s", name, el)
			}
		}
	}
	if !strings.Contains(list.body, `<nav aria-label="Main">`) || !strings.Contains(list.body, `aria-current="page"`) {
		t.Errorf("metrics: no main navigation with the current page marked")
	}
}

// TestProjectSwitcher checks that switching projects keeps the section
// and that the current project is always the one the switcher shows.
func TestProjectSwitcher(t *testing.T) {
	f := newFixture(t, testdb.New(t, "sqlite"), web.Options{})
	br := f.browser()
	br.mustSignIn(adminToken)
	for query, want := range map[string]string{
		"project=other&section=metrics": "/projects/other/metrics",
		"project=other":                 "/projects/other/metrics",
		"project=other&section=../api":  "/projects/other/metrics",
		"project=a%2Fb":                 "/projects/a%2Fb/metrics",
	} {
		if r := br.do(http.MethodGet, "/switch-project?"+query, nil); r.status != http.StatusSeeOther || r.h.Get("Location") != want {
			t.Errorf("%s: %d Location %q, want %s", query, r.status, r.h.Get("Location"), want)
		}
	}
	if r := br.do(http.MethodGet, "/switch-project", nil); r.status != http.StatusBadRequest {
		t.Errorf("no project: %d, want 400", r.status)
	}
	page := br.do(http.MethodGet, "/projects/default/metrics", nil)
	if !strings.Contains(page.body, `<input type="hidden" name="section" value="metrics">`) || !strings.Contains(page.body, `<option value="default" selected>`) {
		t.Errorf("switcher does not carry the section or the project:\n%s", page.body)
	}
	if !strings.Contains(page.body, "This project has no metrics yet") {
		t.Errorf("an empty project's list:\n%s", page.body)
	}
}
