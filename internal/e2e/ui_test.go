package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/metricsd/metricsd/internal/testdb"
)

// envScreenshots names the folder the UI browser test saves its
// screenshots in; without it they go to artifacts/ui-screenshots/ at the
// repository's root (gitignored). .ci/run sets it.
const envScreenshots = "METRICSD_UI_SCREENSHOTS"

// uiBrowser drives the web UI of one running metricsd in headless
// Chromium. Steps are chromedp actions run with run; screenshot saves the
// page as it is.
type uiBrowser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	backend string
	dir     string
}

func newUIBrowser(t *testing.T, e *env) *uiBrowser {
	t.Helper()
	ctx := startBrowser(t, chromiumPath(t))
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts", "ui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	return &uiBrowser{t: t, ctx: ctx, base: e.base, backend: e.backend.Name, dir: dir}
}

// run runs the steps with a generous timeout (CI machines are busy).
func (b *uiBrowser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](b *uiBrowser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as BACKEND-NAME.png in the screenshot
// folder.
func (b *uiBrowser) screenshot(name string) {
	b.t.Helper()
	png := value(b, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(b.dir, b.backend+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
	b.t.Logf("screenshot %s", path)
}

// text returns the text of the first element matching the CSS selector.
func (b *uiBrowser) text(sel string) string {
	b.t.Helper()
	return value(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// uiScenario is the state the steps of the UI scenario share: the test,
// the server and the browser.
type uiScenario struct {
	t *testing.T
	e *env
	b *uiBrowser
}

// uiStep is one step of the scenario.
type uiStep struct {
	name string
	run  func(s *uiScenario)
}

// uiSteps is the scenario, in order, run in one browser session on
// each store: sign in, search with filters, create a metric of each kind,
// a validation error, an edit, the history diff, a funnel group, a blocked
// delete, sign out. A page's steps are functions on *uiScenario in its own
// file (ui_NAME_test.go) and one line here.
func uiSteps() []uiStep {
	return []uiStep{
		{"sign in", (*uiScenario).signIn},
		{"metrics list", (*uiScenario).metricsList},
		{"filter the list", (*uiScenario).filterList},
		{"phone width", (*uiScenario).phoneWidth},
		{"open a metric", (*uiScenario).openMetric},
		{"a metric's page: usage, activity, history diff", (*uiScenario).metricPage},
		{"create each kind, a validation error, edit, delete blocked", (*uiScenario).metricForms},
		{"a funnel group, its delete blocked, the event explorer", (*uiScenario).groupsAndEvents},
		{"sign out", (*uiScenario).signOut},
	}
}

// TestUIBrowser runs the UI scenario in a real browser on each store, with
// screenshots of the main pages.
func TestUIBrowser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, bk testdb.Backend) {
		e := startServer(t, bk)
		for _, k := range []string{"cart-rate", "login-rate", "page-load"} {
			e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`","name":"Metric `+k+`","description":"How often `+k+` happens","tags":["web"]}`)
		}
		e.createMetric(t, "default", `{"key":"pricing-views","kind":"pageview","name":"Pricing page views","urls":[{"kind":"substring","substring":"/pricing"}],"tags":["web","pricing"]}`)
		s := &uiScenario{t: t, e: e, b: newUIBrowser(t, e)}
		for _, st := range uiSteps() {
			t.Logf("step: %s", st.name)
			// Every step starts at the desktop width, with scripts on.
			s.b.run(st.name+": reset", chromedp.EmulateReset(), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
				return err
			}))
			st.run(s)
			if t.Failed() {
				t.Fatalf("stopped after step %q", st.name)
			}
		}
	})
}

func (s *uiScenario) signIn() {
	b := s.b
	b.run("open the UI", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	b.screenshot("sign-in")
	b.run("sign in",
		chromedp.SendKeys(chromedp.ID("token"), testAdminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.list")))
}

func (s *uiScenario) metricsList() {
	b, t := s.b, s.t
	if got := b.text("#metric-count"); got != "Showing 1–4 of 4 metrics" {
		t.Errorf("count %q", got)
	}
	// The first Tab reaches the skip link, and Enter moves to the content.
	b.run("tab", chromedp.KeyEvent("\t"))
	if got := value(b, "focused", chromedp.Evaluate[string](`document.activeElement.getAttribute("href") || ""`)); got != "#main" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}
	b.run("skip", chromedp.KeyEvent("\r"))
	if got := value(b, "focused", chromedp.Evaluate[string](`document.activeElement.id`)); got != "main" {
		t.Errorf("the skip link moves focus to %q, want main", got)
	}
	b.screenshot("metrics")
	b.run("search",
		chromedp.SendKeys(chromedp.ID("q"), "rate"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 2 metrics")]`)))
	if loc := value(b, "location", chromedp.Location()); !strings.Contains(loc, "q=rate") {
		t.Errorf("search not kept in the URL: %s", loc)
	}
}

// filterList narrows the list with the filter form's fields, shares the
// URL, and shows a refused filter beside its field.
func (s *uiScenario) filterList() {
	b, t := s.b, s.t
	b.run("filter by kind and tag",
		chromedp.Navigate(b.base+"/projects/default/metrics"),
		chromedp.WaitVisible(chromedp.ID("kind")),
		chromedp.SetValue(chromedp.ID("kind"), "pageview"),
		chromedp.SendKeys(chromedp.ID("tags"), "pricing"),
		chromedp.Click(chromedp.Search(`//button[contains(., "Apply filters")]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 1 metric")]`)))
	if got := b.text("table.list tbody td a"); got != "Pricing page views" {
		t.Errorf("filtered list shows %q", got)
	}
	loc := value(b, "location", chromedp.Location())
	if !strings.Contains(loc, "kind=pageview") || !strings.Contains(loc, "tags=pricing") {
		t.Errorf("filter not kept in the URL: %s", loc)
	}
	b.screenshot("metrics-filtered")
	// The URL is the filter: opened afresh, it shows the same list and form.
	b.run("open the shared URL", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("metric-count")),
		chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 1 metric")]`)))
	if got := value(b, "kind", chromedp.Value(chromedp.ID("kind"))); got != "pageview" {
		t.Errorf("shared URL: kind %q", got)
	}
	b.run("numeric custom metrics",
		chromedp.Navigate(b.base+"/projects/default/metrics?kind=custom&numeric=false&sort=name"),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 3 metrics")]`)))
	if got := b.text("table.list tbody td a"); got != "Metric cart-rate" {
		t.Errorf("first custom metric by name %q", got)
	}
	// A filter expression the API refuses: the message stands beside it.
	// "More filters" starts closed when none of its fields is set.
	b.run("bad expression",
		chromedp.Navigate(b.base+"/projects/default/metrics?kind=custom&sort=name"),
		chromedp.WaitVisible(chromedp.CSS("details.more summary")))
	if v := value(b, "filter hidden", chromedp.Evaluate[bool](`document.getElementById("filter").checkVisibility()`)); v {
		t.Errorf("more filters open with none set")
	}
	b.run("bad expression",
		chromedp.Click(chromedp.CSS("details.more summary")),
		chromedp.WaitVisible(chromedp.ID("filter")),
		chromedp.SendKeys(chromedp.ID("filter"), "colour equals 1"),
		chromedp.Submit(chromedp.ID("filter")),
		chromedp.WaitVisible(chromedp.ID("filter-error")))
	if got := b.text("#filter-error"); !strings.Contains(got, "colour") {
		t.Errorf("filter error %q", got)
	}
	if got := value(b, "aria-describedby", chromedp.Evaluate[string](`document.getElementById("filter").getAttribute("aria-describedby")`)); !strings.Contains(got, "filter-error") {
		t.Errorf("the field does not point at its error: %q", got)
	}
	b.screenshot("metrics-filter-error")
	b.run("clear", chromedp.Click(chromedp.Search(`//a[starts-with(., "Clear filters")]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 4 metrics")]`)))
}

// phoneWidth checks the list and its filter form at a phone's width: no
// sideways scrolling.
func (s *uiScenario) phoneWidth() {
	b, t := s.b, s.t
	b.run("narrow", chromedp.EmulateViewport(360, 740), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("kind")))
	if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("at 360px the page is %dpx wide", w)
	}
	b.screenshot("metrics-360px")
	b.run("wide", chromedp.EmulateReset())
}

func (s *uiScenario) openMetric() {
	b, t := s.b, s.t
	b.run("open a metric",
		chromedp.Navigate(b.base+"/projects/default/metrics?q=cart"),
		chromedp.Click(chromedp.Search(`//a[contains(., "Metric cart-rate")]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if got := b.text("h1"); got != "Metric cart-rate" {
		t.Errorf("metric page h1 %q", got)
	}
	b.screenshot("metric")
}

func (s *uiScenario) signOut() {
	b, t := s.b, s.t
	b.run("sign out",
		chromedp.Click(chromedp.Search(`//button[contains(., "Sign out")]`)),
		chromedp.WaitVisible(chromedp.ID("token")))
	if got := b.text(".flash"); got != "You are signed out." {
		t.Errorf("flash after sign-out %q", got)
	}
	b.run("signed out", chromedp.Navigate(b.base+"/projects/default/metrics"), chromedp.WaitVisible(chromedp.ID("token")))
}
