package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	ldapi "github.com/launchdarkly/api-client-go/v22"

	"github.com/metricsd/metricsd/internal/testdb"
)

// ldBrowserSDK is LaunchDarkly's JavaScript client SDK as published on npm
// (see testdata/js-client-sdk/README.md).
//
//go:embed testdata/js-client-sdk/ld-js-client-sdk.js
var ldBrowserSDK []byte

// envChromium names a Chromium (or Chrome) executable for the browser
// test; without it the test looks for chromium on PATH.
const envChromium = "METRICSD_TEST_CHROMIUM"

// envRequireChromium, when set (CI sets it), makes a missing browser a
// failure instead of a skip.
const envRequireChromium = "METRICSD_TEST_REQUIRE_CHROMIUM"

// chromiumPath returns the browser to drive, skipping t when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium found on PATH; install it (Debian: apt-get install -y chromium) or set %s to a Chrome or Chromium executable", envChromium)
	if os.Getenv(envRequireChromium) != "" {
		t.Fatalf("browser test: %s (%s is set)", msg, envRequireChromium)
	}
	t.Skipf("browser test skipped: %s", msg)
	return ""
}

// browserPage is the test page, served from its own 127.0.0.1 origin so
// that every SDK call to metricsd is cross-origin, as on a real site. It
// loads the SDK pointed at metricsd, with the evaluation method (GET or
// REPORT) and context key from its query string, and records when the SDK
// has armed its click goals (the document "click" listener the SDK adds
// once the goals are fetched) without changing what the SDK does.
var browserPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>checkout</title></head>
<body>
<h1>Checkout</h1>
<button id="buy" type="button">Buy</button>
<button id="other" type="button">Other</button>
<script>
  window.clickGoalsArmed = false;
  const add = document.addEventListener;
  document.addEventListener = function (type, ...rest) {
    if (type === 'click') { window.clickGoalsArmed = true; }
    return add.call(this, type, ...rest);
  };
</script>
<script type="module">
  import { createClient } from '/ld-js-client-sdk.js';
  const params = new URLSearchParams(location.search);
  const client = createClient({{.ClientSideID}}, { kind: 'user', key: params.get('user') || 'browser-user-1', name: 'Browser User' }, {
    baseUri: {{.Base}},
    eventsUri: {{.Base}},
    streamUri: {{.Base}},
    streaming: false,
    useReport: params.get('report') === '1',
    flushInterval: 600000,
  });
  window.ldClient = client;
  // Generous start timeout (seconds): CI machines are busy. The initial
  // identify then runs without its own timeout (a larger one draws a warning).
  client.start({ timeout: 60, identifyOptions: { noTimeout: true } }).then((r) => { window.ldStart = r.status; }, (e) => { window.ldStart = 'error: ' + e; });
</script>
</body></html>
`))

// sdkRequest is one request the page made, as Chromium saw it.
type sdkRequest struct {
	id     network.RequestID
	method string
	url    string
	body   string
	status int64
	failed string // the network error, CORS refusals included
	done   bool
}

// requestLog records the page's requests to metricsd and its console.
type requestLog struct {
	mu       sync.Mutex
	base     string
	requests []*sdkRequest
	console  []string
	errors   []string
}

func (l *requestLog) find(id network.RequestID) *sdkRequest {
	for _, r := range l.requests {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (l *requestLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if !strings.HasPrefix(ev.Request.URL, l.base) {
			return
		}
		r := &sdkRequest{id: ev.RequestID, method: ev.Request.Method, url: strings.TrimPrefix(ev.Request.URL, l.base)}
		for _, e := range ev.Request.PostDataEntries {
			r.body += string(e.Bytes)
		}
		l.requests = append(l.requests, r)
	case *network.EventResponseReceived:
		if r := l.find(ev.RequestID); r != nil {
			r.status = ev.Response.Status
		}
	case *network.EventLoadingFinished:
		if r := l.find(ev.RequestID); r != nil {
			r.done = true
		}
	case *network.EventLoadingFailed:
		if r := l.find(ev.RequestID); r != nil {
			r.failed, r.done = ev.ErrorText, true
			if ev.CorsErrorStatus != nil {
				r.failed += " (CORS: " + ev.CorsErrorStatus.CorsError.String() + " " + ev.CorsErrorStatus.FailedParameter + ")"
			}
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg := ev.Type.String() + ": " + strings.Join(parts, " ")
		l.console = append(l.console, msg)
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			l.errors = append(l.errors, msg)
		}
	case *runtime.EventExceptionThrown:
		l.errors = append(l.errors, "exception: "+ev.ExceptionDetails.Text)
	}
}

// snapshot returns copies of the requests whose path starts with prefix,
// CORS preflights (OPTIONS) left out.
func (l *requestLog) snapshot(prefix string) []sdkRequest {
	return l.matching(func(r *sdkRequest) bool { return r.method != http.MethodOptions && strings.HasPrefix(r.url, prefix) })
}

// preflights returns copies of the CORS preflights.
func (l *requestLog) preflights() []sdkRequest {
	return l.matching(func(r *sdkRequest) bool { return r.method == http.MethodOptions })
}

func (l *requestLog) matching(keep func(*sdkRequest) bool) []sdkRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sdkRequest
	for _, r := range l.requests {
		if keep(r) {
			out = append(out, *r)
		}
	}
	return out
}

// keepaliveOK reports whether failed, the network error Chromium reported
// for an event post that was answered, is no error. The SDK posts events
// with fetch's keepalive (so that they survive the page), and Chromium
// reports such requests as aborted on the page's side once the browser
// process has taken them over, after the answer arrived; a CORS refusal is
// another error, net::ERR_FAILED, with no answer.
func keepaliveOK(failed string) bool {
	return failed == "" || failed == "net::ERR_ABORTED"
}

// startBrowser starts headless Chromium with a fresh profile, stopped when
// t ends.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so that a broken installation fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// servePage serves the test page and the SDK bundle on 127.0.0.1 and
// returns the page origin.
func servePage(t *testing.T, clientSideID, base string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ld-js-client-sdk.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(ldBrowserSDK)
	})
	mux.HandleFunc("GET /shop/checkout", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := browserPage.Execute(w, map[string]string{"ClientSideID": clientSideID, "Base": base}); err != nil {
			t.Errorf("page: %v", err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// runLoad opens url in the browser tab of ctx, waits until the SDK has
// started and armed its click goals, clicks #buy, tracks a custom event and
// flushes the SDK's events. It returns the start status, whether the goals
// were armed and the flush result.
func runLoad(ctx context.Context, url string) (started string, armed bool, flushed json.RawMessage, err error) {
	if err = chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return
	}
	if started, err = chromedp.Run(ctx, chromedp.Poll[string](`window.ldStart`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		return
	}
	if armed, err = chromedp.Run(ctx, chromedp.Poll[bool](`window.clickGoalsArmed`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		return
	}
	if err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#buy"))); err != nil {
		return
	}
	flushed, err = chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](`(async () => {
		window.ldClient.track('checkout-completed', { plan: 'pro' }, 42.5);
		return await window.ldClient.flush();
	})()`, chromedp.EvalAwaitPromise))
	return
}

// TestBrowserSDK loads LaunchDarkly's JavaScript client SDK in headless
// Chromium on a page pointed at metricsd: the SDK must start cleanly
// (goals, flag evaluation by GET and by REPORT, CORS preflights), report
// the page views its goals match, a click on a goal's selector and a
// track call, and metricsd must show them as lastSeen on the metrics.
func TestBrowserSDK(t *testing.T) {
	chromium := chromiumPath(t)
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		e := startServer(t, b)
		ctx := context.Background()
		envRep, _, err := e.client.EnvironmentsApi.GetEnvironment(ctx, "default", "production").Execute()
		if err != nil {
			t.Fatalf("get environment: %v", err)
		}
		clientSideID := envRep.Id
		page := servePage(t, clientSideID, e.base)

		str := func(s string) *string { return &s }
		url := func(kind, field, v string) ldapi.UrlPost {
			u := ldapi.UrlPost{Kind: str(kind)}
			switch field {
			case "url":
				u.Url = str(v)
			case "substring":
				u.Substring = str(v)
			case "pattern":
				u.Pattern = str(v)
			}
			return u
		}
		metrics := []ldapi.MetricPost{
			{Key: "checkout-page", Kind: "pageview", Urls: []ldapi.UrlPost{url("canonical", "url", page+"/shop/checkout")}},
			{Key: "checkout-exact", Kind: "pageview", Urls: []ldapi.UrlPost{url("exact", "url", page+"/shop/checkout")}},
			{Key: "shop-substring", Kind: "pageview", Urls: []ldapi.UrlPost{url("substring", "substring", "/shop/")}},
			{Key: "shop-regex", Kind: "pageview", Urls: []ldapi.UrlPost{url("regex", "pattern", `^http://127\.0\.0\.1:[0-9]+/shop/check(out)?$`)}},
			{Key: "other-page", Kind: "pageview", Urls: []ldapi.UrlPost{url("exact", "url", page+"/elsewhere")}},
			{Key: "buy-click", Kind: "click", Selector: str("#buy"), Urls: []ldapi.UrlPost{url("substring", "substring", "/shop/")}},
			{Key: "other-click", Kind: "click", Selector: str("#other"), Urls: []ldapi.UrlPost{url("substring", "substring", "/shop/")}},
			{Key: "checkout", Kind: "custom", EventKey: str("checkout-completed"), IsNumeric: ldapi.PtrBool(true), Unit: str("usd"), SuccessCriteria: str("HigherThanBaseline")},
		}
		for _, m := range metrics {
			if _, _, err := e.client.MetricsApi.PostMetric(ctx, "default").MetricPost(m).Execute(); err != nil {
				t.Fatalf("create metric %s: %v", m.Key, err)
			}
		}

		bctx := startBrowser(t, chromium)
		log := &requestLog{base: e.base}
		if err := chromedp.Listen(bctx, log.listen); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(bctx, runtime.Enable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if t.Failed() {
				for _, c := range log.console {
					t.Logf("console %s", c)
				}
				for _, r := range log.matching(func(*sdkRequest) bool { return true }) {
					t.Logf("request %s %s → %d %s", r.method, r.url, r.status, r.failed)
				}
			}
		}()

		loads := []struct {
			query, user, evalMethod, evalPath string
			pageviews                         []string
		}{
			{"", "browser-user-1", "GET", "/sdk/evalx/" + clientSideID + "/contexts/",
				[]string{"checkout-exact", "checkout-page", "shop-regex", "shop-substring"}},
			// The query string keeps the exact matcher from matching.
			{"?report=1&user=browser-user-2", "browser-user-2", "REPORT", "/sdk/evalx/" + clientSideID + "/context",
				[]string{"checkout-page", "shop-regex", "shop-substring"}},
		}
		eventsPath := "/events/bulk/" + clientSideID
		var sent int
		for i, load := range loads {
			started, armed, flushed, err := runLoad(bctx, page+"/shop/checkout"+load.query)
			if err != nil {
				t.Fatalf("load %d: %v", i+1, err)
			}
			if !armed {
				t.Fatalf("load %d: the SDK armed no click goals", i+1)
			}
			if started != "complete" {
				t.Fatalf("load %d: client.start() = %q, want complete", i+1, started)
			}
			if string(flushed) != `{"result":true}` {
				t.Errorf("load %d: flush() = %s, want {\"result\":true}", i+1, flushed)
			}

			// What the SDK asked for, and what it was told.
			waitFor(t, 30*time.Second, "the event post", func() bool {
				posts := log.snapshot(eventsPath)
				return len(posts) > sent && posts[len(posts)-1].done
			})
			if got := log.snapshot("/sdk/goals/" + clientSideID); len(got) != i+1 || got[i].method != "GET" || got[i].status != 200 || got[i].failed != "" {
				t.Errorf("load %d: goals requests %+v, want one GET answered 200 per load", i+1, got)
			}
			evals := log.snapshot("/sdk/evalx/")
			if len(evals) != i+1 || evals[i].method != load.evalMethod || !strings.HasPrefix(evals[i].url, load.evalPath) ||
				evals[i].status != 200 || evals[i].failed != "" {
				t.Errorf("load %d: evaluation requests %+v, want one %s %s… answered 200", i+1, evals, load.evalMethod, load.evalPath)
			}
			posts := log.snapshot(eventsPath)
			var events []map[string]any
			for _, p := range posts[sent:] {
				if p.method != "POST" || p.status != 202 || !keepaliveOK(p.failed) {
					t.Errorf("load %d: event post %s %s → %d %s, want 202", i+1, p.method, p.url, p.status, p.failed)
				}
				var batch []map[string]any
				if err := json.Unmarshal([]byte(p.body), &batch); err != nil {
					t.Fatalf("load %d: event post body %q: %v", i+1, p.body, err)
				}
				events = append(events, batch...)
			}
			sent = len(posts)
			for _, d := range log.snapshot("/events/diagnostic/") {
				if d.status != 202 || !keepaliveOK(d.failed) {
					t.Errorf("diagnostic post %s → %d %s, want 202", d.url, d.status, d.failed)
				}
			}

			var pageviews []string
			var clicks, customs []map[string]any
			for _, ev := range events {
				switch ev["kind"] {
				case "pageview":
					pageviews = append(pageviews, ev["key"].(string))
				case "click":
					clicks = append(clicks, ev)
				case "custom":
					customs = append(customs, ev)
				}
			}
			slices.Sort(pageviews)
			if !slices.Equal(pageviews, load.pageviews) {
				t.Errorf("load %d: pageview goals sent %v, want %v", i+1, pageviews, load.pageviews)
			}
			if len(clicks) != 1 || clicks[0]["key"] != "buy-click" || clicks[0]["selector"] != "#buy" {
				t.Errorf("load %d: click events %v, want one buy-click on #buy", i+1, clicks)
			}
			if len(customs) != 1 || customs[0]["key"] != "checkout-completed" || customs[0]["metricValue"] != 42.5 {
				t.Errorf("load %d: custom events %v, want one checkout-completed with metricValue 42.5", i+1, customs)
			}
		}
		// Chromium preflighted the evaluation and event requests (the SDK
		// adds X-LaunchDarkly-* headers and JSON bodies): every preflight
		// was allowed, so no request failed on CORS.
		pre := log.preflights()
		if len(pre) < 3 {
			t.Errorf("%d CORS preflights, want at least 3 (evaluation, events, diagnostics)", len(pre))
		}
		for _, p := range pre {
			if p.status != 200 || p.failed != "" {
				t.Errorf("preflight %s → %d %s, want 200", p.url, p.status, p.failed)
			}
		}
		log.mu.Lock()
		consoleErrors := slices.Clone(log.errors)
		log.mu.Unlock()
		if len(consoleErrors) > 0 {
			t.Errorf("the page logged errors or warnings:\n%s", strings.Join(consoleErrors, "\n"))
		}

		// metricsd shows the events on the metrics. A 202 means committed,
		// so no waiting: every post above was answered.
		now := time.Now()
		hourAgo := now.Add(-time.Hour).Truncate(time.Hour).UnixMilli()
		for _, key := range []string{"checkout-page", "checkout-exact", "shop-substring", "shop-regex", "buy-click", "checkout"} {
			m, _, err := e.client.MetricsApi.GetMetric(ctx, "default", key).Execute()
			if err != nil {
				t.Fatalf("get metric %s: %v", key, err)
			}
			if m.LastSeen == nil || *m.LastSeen < hourAgo || *m.LastSeen > now.UnixMilli() {
				t.Errorf("metric %s: lastSeen %v, want between %d and now", key, m.LastSeen, hourAgo)
			}
		}
		for _, key := range []string{"other-page", "other-click"} {
			m, _, err := e.client.MetricsApi.GetMetric(ctx, "default", key).Execute()
			if err != nil {
				t.Fatalf("get metric %s: %v", key, err)
			}
			if m.LastSeen != nil {
				t.Errorf("metric %s: lastSeen %d, want none (no event matched it)", key, *m.LastSeen)
			}
		}

		// The hourly rollups of the production environment: one event per
		// load and goal, from two contexts of kind user.
		rollups := []struct {
			kind, key string
			totals    string // JSON of the totals' fields checked
		}{
			{"pageview", "checkout-page", `{"count":2,"contexts":{"user":2},"valueCount":0}`},
			{"pageview", "checkout-exact", `{"count":1,"contexts":{"user":1},"valueCount":0}`},
			{"pageview", "shop-substring", `{"count":2,"contexts":{"user":2},"valueCount":0}`},
			{"pageview", "shop-regex", `{"count":2,"contexts":{"user":2},"valueCount":0}`},
			{"click", "buy-click", `{"count":2,"contexts":{"user":2},"valueCount":0}`},
			{"custom", "checkout-completed", `{"count":2,"contexts":{"user":2},"valueCount":2,"sum":85,"min":42.5,"max":42.5}`},
		}
		for _, r := range rollups {
			got := e.getJSON(t, rollupsPath("production", r.kind, r.key))["totals"].(map[string]any)
			var want map[string]any
			if err := json.Unmarshal([]byte(r.totals), &want); err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					delete(got, k)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("rollup totals of %s %s (-want +got):\n%s", r.kind, r.key, d)
			}
		}
		for _, r := range [][2]string{{"pageview", "other-page"}, {"click", "other-click"}, {"click", "checkout-page"}} {
			if got := e.getJSON(t, rollupsPath("production", r[0], r[1])); got["totalCount"] != 0.0 {
				t.Errorf("rollups of %s %s: %v, want none", r[0], r[1], got)
			}
		}
	})
}
