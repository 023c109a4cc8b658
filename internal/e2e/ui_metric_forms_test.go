package e2e

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// choose sets a select's value the way a person does, with the change
// event the form's module listens to.
func choose(id, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal([]string{id, value})
	set := chromedp.Evaluate[bool](`((a) => { const e = document.getElementById(a[0]); e.value = a[1]; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })(` + string(js) + `)`)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := set(ctx, t)
		return err
	})
}

// visible reports whether the element with id is shown.
func visible(b *uiBrowser, id string) bool {
	b.t.Helper()
	return value(b, "is "+id+" shown", chromedp.Evaluate[bool](`(() => { const e = document.getElementById(`+"`"+id+"`"+`); return !!e && !e.closest('[hidden]'); })()`))
}

// metricForms (a step of TestUIBrowser) creates a metric of each kind in the browser,
// is shown a validation error beside its field, edits a metric (and
// confirms its impact on a running experiment and a guarded rollout), and sees the delete of a
// metric a funnel group uses blocked, on both stores.
func (s *uiScenario) metricForms() {
	t, e := s.t, s.e
	for _, k := range []string{"step-a", "step-b"} {
		e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`","name":"Step `+k+`"}`)
	}
	e.mgCreate(t, "default", `{"key":"signup-funnel","name":"Signup funnel","kind":"funnel","metrics":[{"key":"step-a","nameInGroup":"A"},{"key":"step-b","nameInGroup":"B"}]}`)
	b := s.b
	// Signed in by the scenario's first step.
	b.run("metrics list", chromedp.Navigate(b.base+"/projects/default/metrics"), chromedp.WaitVisible(chromedp.ID("new-metric")))

	// A custom numeric metric: first without success criteria, which
	// the catalog refuses beside the field, keeping the input.
	b.run("open the form", chromedp.Click(chromedp.ID("new-metric")), chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)))
	if visible(b, "selector") || !visible(b, "eventKey") || visible(b, "unit") {
		t.Errorf("custom conversion form shows the wrong fields: selector %v eventKey %v unit %v", visible(b, "selector"), visible(b, "eventKey"), visible(b, "unit"))
	}
	b.run("fill a numeric custom metric",
		chromedp.SendKeys(chromedp.ID("key"), "checkout-value"),
		chromedp.SendKeys(chromedp.ID("name"), "Checkout value"),
		chromedp.SendKeys(chromedp.ID("eventKey"), "checkout"),
		chromedp.Click(chromedp.ID("measure-numeric")),
		chromedp.WaitVisible(chromedp.ID("unit")),
		chromedp.SendKeys(chromedp.ID("unit"), "USD"),
		chromedp.SendKeys(chromedp.ID("tags"), "money, checkout"))
	b.screenshot("metric-form")
	b.run("save without success criteria", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("successCriteria-error")))
	if got := b.text("#successCriteria-error"); got != "successCriteria is required when isNumeric is true" {
		t.Errorf("validation message %q", got)
	}
	if v := value(b, "kept key", chromedp.Value(chromedp.ID("key"))); v != "checkout-value" {
		t.Errorf("key not kept: %q", v)
	}
	if inv := value(b, "aria-invalid", chromedp.Evaluate[string](`document.getElementById('successCriteria').getAttribute('aria-invalid') || ''`)); inv != "true" {
		t.Errorf("successCriteria not marked invalid: %q", inv)
	}
	b.screenshot("metric-form-error")
	b.run("save with success criteria",
		choose("successCriteria", "HigherThanBaseline"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	m := e.getMetric(t, "default", "checkout-value", "")
	if m["isNumeric"] != true || m["unit"] != "USD" || m["successCriteria"] != "HigherThanBaseline" || m["eventKey"] != "checkout" {
		t.Errorf("custom metric stored as %v", m)
	}

	// A pageview metric with two URL rows, the second added in place.
	b.run("pageview form",
		chromedp.Navigate(b.base+"/projects/default/metrics/new"),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)),
		choose("kind", "pageview"),
		chromedp.WaitVisible(chromedp.ID("urlValue-0")))
	if visible(b, "eventKey") || visible(b, "measure-numeric") {
		t.Errorf("pageview form shows custom fields")
	}
	b.run("fill a pageview metric",
		chromedp.SendKeys(chromedp.ID("key"), "checkout-visits"),
		chromedp.SendKeys(chromedp.ID("urlValue-0"), "https://shop.example/checkout"),
		chromedp.Click(chromedp.ID("add-url")),
		chromedp.WaitVisible(chromedp.ID("urlValue-1")),
		choose("urlKind-1", "substring"),
		chromedp.SendKeys(chromedp.ID("urlValue-1"), "/cart"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	m = e.getMetric(t, "default", "checkout-visits", "")
	if urls, _ := json.Marshal(m["urls"]); string(urls) != `[{"kind":"exact","url":"https://shop.example/checkout"},{"kind":"substring","substring":"/cart"}]` {
		t.Errorf("pageview urls %s", urls)
	}

	// A click metric, and a trace metric.
	b.run("click metric",
		chromedp.Navigate(b.base+"/projects/default/metrics/new?kind=click"),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)),
		chromedp.WaitVisible(chromedp.ID("selector")),
		chromedp.SendKeys(chromedp.ID("key"), "buy-clicks"),
		chromedp.SendKeys(chromedp.ID("selector"), "button.buy"),
		choose("urlKind-0", "regex"),
		chromedp.SendKeys(chromedp.ID("urlValue-0"), `^https://shop\.example/p/`),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if m := e.getMetric(t, "default", "buy-clicks", ""); m["selector"] != "button.buy" {
		t.Errorf("click metric stored as %v", m)
	}
	b.run("trace metric",
		chromedp.Navigate(b.base+"/projects/default/metrics/new?kind=trace"),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)),
		chromedp.WaitVisible(chromedp.ID("traceQuery")),
		chromedp.SendKeys(chromedp.ID("key"), "slow-queries"),
		chromedp.SendKeys(chromedp.ID("traceQuery"), "db.system = postgresql"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if m := e.getMetric(t, "default", "slow-queries", ""); m["traceQuery"] != "db.system = postgresql" {
		t.Errorf("trace metric stored as %v", m)
	}

	// Edit: rename the custom metric and change its unit.
	b.run("edit",
		chromedp.Navigate(b.base+"/projects/default/metrics/checkout-value"),
		chromedp.Click(chromedp.ID("edit-metric")),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)),
		chromedp.SetValue(chromedp.ID("name"), "Checkout revenue"),
		chromedp.SetValue(chromedp.ID("unit"), "EUR"),
		chromedp.SendKeys(chromedp.ID("comment"), "currency"))
	b.screenshot("metric-edit")
	b.run("save the edit", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text(".flash"); got != "Metric checkout-value was saved." {
		t.Errorf("flash after edit %q", got)
	}
	m = e.getMetric(t, "default", "checkout-value", "")
	if m["name"] != "Checkout revenue" || m["unit"] != "EUR" || m["_version"] != 2.0 {
		t.Errorf("after the edit: name %v unit %v version %v", m["name"], m["unit"], m["_version"])
	}

	// A metric a running experiment and an active guarded rollout use:
	// the edit's impact is shown first, and saved only once confirmed.
	e.createRollout(t, "new-checkout", `{"flagName":"New checkout","metricKeys":["checkout-value"]}`)
	e.createExperiment(t, "checkout-test", "Checkout test", simpleIteration("checkout-flag", "checkout-value"), startIt)
	b.run("edit a monitored metric",
		chromedp.Navigate(b.base+"/projects/default/metrics/checkout-value/edit"),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)),
		chromedp.SetValue(chromedp.ID("name"), "Checkout revenue (EUR)"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("impact")))
	if got := b.text("#impact"); !strings.Contains(got, "new-checkout") || !strings.Contains(got, "production") || !strings.Contains(got, "Experiment Checkout test (checkout-test)") {
		t.Errorf("impact %q", got)
	}
	if m := e.getMetric(t, "default", "checkout-value", ""); m["_version"] != 2.0 {
		t.Errorf("the impact dry run saved: version %v", m["_version"])
	}
	b.screenshot("metric-edit-impact")
	b.run("confirm", chromedp.Click(chromedp.Search(`//button[@id="save"][contains(., "Confirm and save")]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if m := e.getMetric(t, "default", "checkout-value", ""); m["_version"] != 3.0 || m["name"] != "Checkout revenue (EUR)" {
		t.Errorf("after confirming: version %v name %v", m["_version"], m["name"])
	}

	// Delete: blocked for a metric the funnel uses, done for a free one.
	b.run("blocked delete",
		chromedp.Navigate(b.base+"/projects/default/metrics/step-a"),
		chromedp.Click(chromedp.ID("delete-metric")),
		chromedp.WaitVisible(chromedp.ID("delete-blocked")))
	if got := b.text("#blockers tbody"); !strings.Contains(got, "signup-funnel") {
		t.Errorf("blockers %q", got)
	}
	if n := value(b, "delete button", chromedp.Evaluate[int](`document.querySelectorAll('#confirm-delete').length`)); n != 0 {
		t.Errorf("a blocked metric is offered a delete button")
	}
	b.screenshot("metric-delete-blocked")
	b.run("delete",
		chromedp.Navigate(b.base+"/projects/default/metrics/buy-clicks/delete"),
		chromedp.Click(chromedp.ID("confirm-delete")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text(".flash"); got != "Metric buy-clicks was deleted." {
		t.Errorf("flash after delete %q", got)
	}
	if st, _, _ := e.do(t, "GET", metricPath("default", "buy-clicks"), ""); st != 404 {
		t.Errorf("deleted metric: %d", st)
	}

	// A phone's width: the form fits without sideways scrolling.
	b.run("narrow form",
		chromedp.EmulateViewport(360, 740),
		chromedp.Navigate(b.base+"/projects/default/metrics/new?kind=pageview"),
		chromedp.WaitVisible(chromedp.CSS(`#metric-form[data-enhanced="true"]`)))
	if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("at 360px the form is %dpx wide", w)
	}
	b.screenshot("metric-form-360px")
	b.run("wide again", chromedp.EmulateReset())

	// Without JavaScript: every section shows, the server takes only
	// the kind's fields, and Add a URL posts the form back.
	b.run("no javascript", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.run("plain form",
		chromedp.Navigate(b.base+"/projects/default/metrics/new"),
		chromedp.WaitVisible(chromedp.ID("selector")),
		chromedp.WaitVisible(chromedp.ID("eventKey")),
		chromedp.SetValue(chromedp.ID("kind"), "click"),
		chromedp.SendKeys(chromedp.ID("key"), "plain-clicks"),
		chromedp.SendKeys(chromedp.ID("eventKey"), "not-for-clicks"),
		chromedp.SendKeys(chromedp.ID("selector"), "a.more"),
		chromedp.SendKeys(chromedp.ID("urlValue-0"), "https://shop.example/"),
		chromedp.Click(chromedp.ID("add-url")),
		chromedp.WaitVisible(chromedp.ID("urlValue-1")),
		chromedp.SetValue(chromedp.ID("urlKind-1"), "substring"),
		chromedp.SendKeys(chromedp.ID("urlValue-1"), "/sale"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	m = e.getMetric(t, "default", "plain-clicks", "")
	if urls, _ := json.Marshal(m["urls"]); m["kind"] != "click" || m["selector"] != "a.more" || m["eventKey"] != nil ||
		string(urls) != `[{"kind":"exact","url":"https://shop.example/"},{"kind":"substring","substring":"/sale"}]` {
		t.Errorf("metric made without JavaScript: %v", m)
	}
}
