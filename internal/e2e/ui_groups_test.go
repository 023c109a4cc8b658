package e2e

import (
	"context"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// stepOrder is the metric keys of the group editor's steps, in page order.
func stepOrder(b *uiBrowser) string {
	b.t.Helper()
	return value(b, "step order", chromedp.Evaluate[string](`[...document.querySelectorAll('#steps > li.step')].map(li => li.dataset.key).join(',')`))
}

// groupsAndEvents (a step of TestUIBrowser) builds a funnel in the group editor (three
// metrics from the picker, reordered by drag and drop and by keyboard),
// sees its delete blocked by an experiment, and reads the event explorer
// after events were sent with the environment's SDK key, in a real browser.
func (s *uiScenario) groupsAndEvents() {
	t, e := s.t, s.e
	for _, k := range []string{"visit", "signup", "purchase", "quiet"} {
		e.createMetric(t, "default", `{"key":"`+k+`","kind":"custom","eventKey":"`+k+`","name":"Step `+k+`"}`)
	}
	e.createMetric(t, "default", `{"key":"order-value","kind":"custom","eventKey":"order","name":"Order value","isNumeric":true,"unit":"USD","successCriteria":"HigherThanBaseline"}`)
	prod, _, err := e.client.EnvironmentsApi.GetEnvironment(context.Background(), "default", "production").Execute()
	if err != nil {
		t.Fatalf("GetEnvironment: %v", err)
	}
	for key, n := range map[string]int{"visit": 5, "signup": 3, "order": 2, "stray-click": 4} {
		if st, body := e.postEvents(t, "/bulk", customEvents(key, n), "Authorization: "+prod.ApiKey); st != 202 {
			t.Fatalf("post %s events: %d %s", key, st, body)
		}
	}
	valued := strings.ReplaceAll(customEvents("basket", 3), `"context"`, `"metricValue":12.5,"context"`)
	if st, body := e.postEvents(t, "/bulk", valued, "Authorization: "+prod.ApiKey); st != 202 {
		t.Fatalf("post basket events: %d %s", st, body)
	}
	if n := e.rollupCount(t, "production", "custom", "stray-click"); n != 4 {
		t.Fatalf("stray-click events counted = %v, want 4", n)
	}

	b := s.b
	// Signed in by the scenario's first step.
	b.run("metrics list", chromedp.Navigate(b.base+"/projects/default/metrics"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	b.run("open the groups",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Main"]//a[.="Groups"]`)),
		chromedp.WaitVisible(chromedp.ID("group-count")),
		chromedp.Click(chromedp.Search(`//a[.="New metric group"]`)),
		chromedp.WaitVisible(chromedp.ID("group-editor")))
	b.run("name it", chromedp.SendKeys(chromedp.ID("name"), "Checkout funnel"))
	// The scenario's project holds more metrics than the picker's page:
	// find the steps by name first.
	b.run("find the steps",
		chromedp.SetValue(chromedp.ID("pq"), "Step "),
		chromedp.Click(chromedp.CSS(`button[value="search"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="add:visit"]`)))
	for i, k := range []string{"purchase", "visit", "signup"} {
		b.run("add "+k,
			chromedp.Click(chromedp.CSS(`button[value="add:`+k+`"]`)),
			chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//ol[@id="steps"]/li[%d][@data-key=%q]`, i+1, k))))
	}
	if got := stepOrder(b); got != "purchase,visit,signup" {
		t.Fatalf("after adding: %s", got)
	}
	if got := b.text("#steps-status"); got != "Added Step signup as step 3." {
		t.Errorf("announcement after add %q", got)
	}

	// Drag signup by its handle onto the first step.
	b.run("drag signup to the top",
		chromedp.DragAndDrop(chromedp.CSS(`li[data-key="signup"] .handle`), chromedp.CSS(`li[data-key="purchase"]`)),
		chromedp.WaitVisible(chromedp.Search(`//ol[@id="steps"]/li[1][@data-key="signup"]`)))
	if got := stepOrder(b); got != "signup,purchase,visit" {
		t.Fatalf("after the drag: %s", got)
	}
	b.run("drag announced", chromedp.WaitVisible(chromedp.Search(`//p[@id="steps-status"][contains(., "Moved Step signup to position 1 of 3.")]`), chromedp.NodeReady))

	// The keyboard: focus visit's handle and press ArrowUp twice.
	b.run("keyboard reorder",
		chromedp.Focus(chromedp.CSS(`li[data-key="visit"] .handle`)),
		chromedp.KeyEvent(kb.ArrowUp),
		chromedp.KeyEvent(kb.ArrowUp))
	if got := stepOrder(b); got != "visit,signup,purchase" {
		t.Fatalf("after the keyboard moves: %s", got)
	}
	active := value(b, "focus", chromedp.Evaluate[string](`document.activeElement.closest('li.step').dataset.key`))
	if active != "visit" {
		t.Errorf("focus after the keyboard moves is on %q, want visit's handle", active)
	}
	b.run("keyboard announced", chromedp.WaitVisible(chromedp.Search(`//p[@id="steps-status"][contains(., "Moved Step visit to position 1 of 3.")]`), chromedp.NodeReady))
	b.screenshot("group-editor")
	b.run("narrow editor", chromedp.EmulateViewport(360, 740))
	if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("at 360px the group editor is %dpx wide", w)
	}
	b.screenshot("group-editor-360px")
	b.run("wide editor", chromedp.EmulateReset())

	b.run("save",
		chromedp.Click(chromedp.ID("save-group")),
		chromedp.WaitVisible(chromedp.ID("group-metrics")))
	if got := b.text(".flash"); got != "Metric group checkout-funnel was created." {
		t.Errorf("flash %q", got)
	}
	g := e.mgGet(t, "default", "checkout-funnel", "")
	var order []string
	for _, m := range g["metrics"].([]any) {
		order = append(order, m.(map[string]any)["key"].(string))
	}
	if got := strings.Join(order, ","); got != "visit,signup,purchase" || g["kind"] != "funnel" {
		t.Errorf("stored group: kind %v order %s", g["kind"], got)
	}
	b.screenshot("group")

	// An experiment uses it: the delete page shows that first.
	e.createExperiment(t, "funnel-exp", "Funnel experiment", simpleIteration("flag-funnel", "group:checkout-funnel"))
	b.run("delete blocked",
		chromedp.Click(chromedp.Search(`//a[contains(., "Delete")]`)),
		chromedp.WaitVisible(chromedp.ID("delete-blocked")))
	if got := b.text("#delete-blocked"); !strings.Contains(got, "Experiment funnel-exp") {
		t.Errorf("blockers %q", got)
	}
	if n := value(b, "delete buttons", chromedp.Evaluate[int](`document.querySelectorAll('main button.danger').length`)); n != 0 {
		t.Errorf("%d delete buttons on a blocked delete", n)
	}
	b.screenshot("group-delete-blocked")

	// The event explorer of production.
	b.run("open the events",
		chromedp.Click(chromedp.Search(`//nav[@aria-label="Main"]//a[.="Events"]`)),
		chromedp.WaitVisible(chromedp.ID("env-switch")))
	b.run("switch to production",
		chromedp.SetValue(chromedp.ID("env-switch"), "production"),
		chromedp.Submit(chromedp.ID("env-switch")),
		chromedp.WaitVisible(chromedp.ID("event-keys")))
	// This step's five keys, and checkout from the metric page's step.
	if got := b.text("#keys-count"); !strings.HasPrefix(got, "6 event keys seen") {
		t.Errorf("keys count %q", got)
	}
	if got := b.text(`#event-keys tr[data-key="basket"]`); !strings.Contains(got, "3 (100%)") {
		t.Errorf("basket row %q, want its 3 events with a value", got)
	}
	row := b.text(`#event-keys`)
	for _, want := range []string{"visit", "stray-click", "order-value"} {
		if !strings.Contains(row, want) {
			t.Errorf("event keys table lacks %q:\n%s", want, row)
		}
	}
	if got := b.text("#unused"); !strings.Contains(got, "stray-click") || strings.Contains(got, "visit") {
		t.Errorf("unused keys %q", got)
	}
	// One line per metric, its key first (the scenario's checkout-visits
	// is silent too, so the key is matched at the start of a line).
	if got := b.text("#silent"); !strings.Contains(got, "quiet") || !strings.Contains(got, "purchase") || strings.Contains("\n"+got, "\nvisit ") {
		t.Errorf("silent metrics %q", got)
	}
	if got := b.text("#novalues"); !strings.Contains(got, "order-value") {
		t.Errorf("numeric metrics without values %q", got)
	}
	b.screenshot("events")
	b.run("narrow events", chromedp.EmulateViewport(360, 740))
	if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 360 {
		t.Errorf("at 360px the events page is %dpx wide", w)
	}
	b.run("wide", chromedp.EmulateReset())
}
