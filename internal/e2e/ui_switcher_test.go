package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/metricsd/metricsd/internal/testdb"
)

// TestUIBrowserProjectSwitcherKeyboard: arrowing through the project
// switcher with the keyboard stays on the page (browsers that fire change
// on every arrow key would otherwise leave at the first one); the Switch
// button sends the choice. A change alone never leaves the page (WCAG
// 3.2.2), whether it comes from the keyboard or the pointer.
func TestUIBrowserProjectSwitcherKeyboard(t *testing.T) {
	testdb.Each(t, func(t *testing.T, bk testdb.Backend) {
		e := startServer(t, bk)
		for _, p := range []string{"alpha", "beta"} {
			if st, body, _ := e.do(t, "POST", "/api/v2/projects", `{"key":"`+p+`","name":"`+p+`"}`); st != http.StatusCreated {
				t.Fatalf("create project %s: %d %s", p, st, body)
			}
		}
		b := newUIBrowser(t, e)
		b.run("sign in", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), testAdminToken), chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.ID("project-switch")))
		start := value(b, "location", chromedp.Location())
		b.run("arrow through the switcher", chromedp.Focus(chromedp.ID("project-switch")),
			chromedp.KeyEvent(kb.ArrowDown), chromedp.Sleep(700*time.Millisecond))
		if loc := value(b, "location", chromedp.Location()); loc != start {
			t.Fatalf("an arrow key in the switcher left the page: %s -> %s", start, loc)
		}
		chosen := value(b, "chosen", chromedp.Evaluate[string](`document.getElementById('project-switch').value`))
		if strings.HasSuffix(start, "/projects/"+chosen+"/metrics") {
			t.Fatalf("the arrow key chose nothing new (%s)", chosen)
		}
		b.run("send with Switch", chromedp.Click(chromedp.Search(`//form[contains(@class,"switcher")]//button[contains(., "Switch")]`)),
			chromedp.WaitReady(chromedp.Search(`//select[@id="project-switch"]/option[@selected][@value="`+chosen+`"]`)))
		if loc := value(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/projects/"+chosen+"/metrics") {
			t.Errorf("after Switch: %s, want project %s", loc, chosen)
		}
		// A choice made with the pointer waits for the button too.
		here := value(b, "location", chromedp.Location())
		value(b, "choose without the keyboard", chromedp.Evaluate[bool](`(() => { const s = document.getElementById('project-switch'); s.value = 'alpha'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`))
		b.run("a change alone stays", chromedp.Sleep(700*time.Millisecond))
		if loc := value(b, "location", chromedp.Location()); loc != here {
			t.Errorf("a change without the button left the page: %s -> %s", here, loc)
		}
	})
}
