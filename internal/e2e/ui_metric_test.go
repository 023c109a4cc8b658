package e2e

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// metricPage (a step of TestUIBrowser) opens a metric's page in a real browser after
// events were sent and the metric was edited through the API: the
// activity chart counts the events, and the history form shows the diff
// of the two versions chosen, in either order, kept in the URL.
func (s *uiScenario) metricPage() {
	t, e := s.t, s.e
	v1 := e.createMetric(t, "default", `{"key":"checkout-rate","kind":"custom","eventKey":"checkout","name":"Checkout rate","description":"Share of sessions that pay","tags":["web"]}`)
	st, body, _ := e.do(t, http.MethodPatch, metricPath("default", "checkout-rate"),
		`{"comment":"clearer name","patch":[{"op":"replace","path":"/name","value":"Checkout conversion"},{"op":"add","path":"/tags/-","value":"funnel"}]}`)
	if st != http.StatusOK {
		t.Fatalf("patch: %d %s", st, body)
	}
	v2 := obj(t, body)
	// Where it is used: an experiment that runs, a group, a view.
	e.createMetric(t, "default", `{"key":"signup-rate","kind":"custom","eventKey":"signup","name":"Signup rate"}`)
	e.createExperiment(t, "exp-checkout", "Checkout test", simpleIteration("checkout-flag", "checkout-rate"), startIt)
	e.mgCreate(t, "default", `{"key":"buyers","name":"Buyers","kind":"standard","tags":[],"metrics":[{"key":"signup-rate"},{"key":"checkout-rate"}]}`)
	if st, b := e.viewDo(t, http.MethodPost, viewsPath("default"), `{"key":"growth","name":"Growth"}`); st != http.StatusOK {
		t.Fatalf("create view: %d %s", st, b)
	}
	linkMetrics(t, e.api(t), "default", "growth", "checkout-rate")
	prod, _, err := e.client.EnvironmentsApi.GetEnvironment(context.Background(), "default", "production").Execute()
	if err != nil {
		t.Fatalf("GetEnvironment: %v", err)
	}
	if st, resp := e.postEvents(t, "/bulk", customEvents("checkout", 25), "Authorization: "+prod.ApiKey); st != http.StatusAccepted {
		t.Fatalf("events: %d %s", st, resp)
	}
	for deadline := time.Now().Add(30 * time.Second); e.rollupCount(t, "production", "custom", "checkout") != 25; {
		if time.Now().After(deadline) {
			t.Fatal("the events were not counted")
		}
		time.Sleep(100 * time.Millisecond)
	}

	b := s.b
	// Signed in by the scenario's first step.
	b.run("open the metric", chromedp.Navigate(b.base+"/projects/default/metrics/checkout-rate"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	if got := b.text("h1"); got != "Checkout conversion" {
		t.Errorf("h1 %q", got)
	}
	if got := b.text("figure.activity figcaption"); !strings.Contains(got, "Production — 25 custom events") {
		t.Errorf("activity caption %q", got)
	}
	if n := value(b, "bars", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.bar").length`)); n != 1 {
		t.Errorf("%d bars, want 1 (one hour with events)", n)
	}
	usage := b.text("section[aria-labelledby=usage]")
	for _, want := range []string{"Checkout test exp-checkout", "Running", "Buyers", "Growth"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	// By default the history shows the latest change.
	if got := b.text("#diff h3"); got != "Changes from version 1 to version 2" {
		t.Errorf("default diff %q", got)
	}
	b.screenshot("metric-page")

	b.run("compare version 2 with version 1",
		chromedp.SetValue(chromedp.ID("from"), v2["_versionId"].(string)),
		chromedp.SetValue(chromedp.ID("to"), v1["_versionId"].(string)),
		chromedp.Click(chromedp.Search(`//form[contains(@class,"compare")]//button[contains(., "Compare")]`)),
		chromedp.WaitVisible(chromedp.Search(`//div[@id="diff"]/h3[contains(., "from version 2 to version 1")]`)))
	diff := b.text("#diff table")
	for _, want := range []string{"Name", "Checkout conversion", "Checkout rate", "Tags", "Removed: funnel."} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	// Only what changed is marked: the tag both versions have is not.
	if got := value(b, "struck out", chromedp.Evaluate[string](`[...document.querySelectorAll("#diff td.before del")].map(e => e.textContent).join("|")`)); got != "Checkout conversion|funnel" {
		t.Errorf("struck out %q, want the old name and the removed tag", got)
	}
	if loc := value(b, "location", chromedp.Location()); !strings.Contains(loc, "from="+v2["_versionId"].(string)) || !strings.Contains(loc, "to="+v1["_versionId"].(string)) {
		t.Errorf("the choice is not in the URL: %s", loc)
	}
	b.screenshot("metric-history-diff")
	// A phone's width: the page fits without sideways scrolling.
	b.run("narrow", chromedp.EmulateViewport(360, 740))
	if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("at 360px the metric page is %dpx wide", w)
	}
	b.screenshot("metric-page-360px")
}
