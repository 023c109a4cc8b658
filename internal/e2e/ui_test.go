package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestUIBrowser signs in to the web UI, lists and searches metrics, opens
// one, and signs out, in a real browser.
func TestUIBrowser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, bk testdb.Backend) {
		e := startServer(t, bk)
		for _, k := range []string{"checkout-rate", "signup-rate", "page-load"} {
			e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`","name":"Metric `+k+`","description":"How often `+k+` happens"}`)
		}
		b := newUIBrowser(t, e)

		b.run("open the UI", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
		b.screenshot("sign-in")
		b.run("sign in",
			chromedp.SendKeys(chromedp.ID("token"), testAdminToken),
			chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS("table.list")))
		if got := b.text("#metric-count"); got != "Showing 1–3 of 3 metrics" {
			t.Errorf("count %q", got)
		}
		b.screenshot("metrics")
		// A phone's width: the list still fits, without sideways scrolling.
		b.run("narrow", chromedp.EmulateViewport(360, 740))
		if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
			t.Errorf("at 360px the page is %dpx wide", w)
		}
		b.screenshot("metrics-360px")
		b.run("wide", chromedp.EmulateReset())

		b.run("search",
			chromedp.SendKeys(chromedp.ID("q"), "rate"),
			chromedp.Submit(chromedp.ID("q")),
			chromedp.WaitVisible(chromedp.Search(`//p[@id="metric-count"][contains(., "of 2 metrics")]`)))
		loc := value(b, "location", chromedp.Location())
		if !strings.Contains(loc, "q=rate") {
			t.Errorf("search not kept in the URL: %s", loc)
		}

		b.run("open a metric",
			chromedp.Click(chromedp.Search(`//a[contains(., "Metric checkout-rate")]`)),
			chromedp.WaitVisible(chromedp.CSS("dl.facts")))
		if got := b.text("h1"); got != "Metric checkout-rate" {
			t.Errorf("metric page h1 %q", got)
		}
		b.screenshot("metric")

		b.run("sign out",
			chromedp.Click(chromedp.Search(`//button[contains(., "Sign out")]`)),
			chromedp.WaitVisible(chromedp.ID("token")))
		if got := b.text(".flash"); got != "You are signed out." {
			t.Errorf("flash after sign-out %q", got)
		}
		b.run("signed out", chromedp.Navigate(b.base+"/projects/default/metrics"), chromedp.WaitVisible(chromedp.ID("token")))
	})
}
