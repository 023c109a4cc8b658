package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/api"
)

// doneSpy counts the calls of Done: a request that starts a timer for its
// deadline, or waits on the database, asks its context for Done.
type doneSpy struct {
	context.Context
	calls atomic.Int32
}

func (c *doneSpy) Done() <-chan struct{} {
	c.calls.Add(1)
	return c.Context.Done()
}

// TestCachedGetWaitsOnNothing: a GET served from the representation cache
// starts no timer for the request deadline and waits on no database call
// (it never asks its context for Done), while the first GET, which reads
// the metric, does; both answer the same body and ETag.
func TestCachedGetWaitsOnNothing(t *testing.T) {
	srv, _, _ := newTestServer(t, api.Options{AuthCacheTTL: time.Minute})
	if a := call(t, srv, "POST", "/api/v2/metrics/default", `{"key":"hot","kind":"custom","eventKey":"e"}`, benchToken, "192.0.2.1:1"); a.status != http.StatusCreated {
		t.Fatalf("create: %d %+v", a.status, a.body)
	}
	get := func() (int32, *httptest.ResponseRecorder) {
		spy := &doneSpy{Context: context.Background()}
		r := httptest.NewRequestWithContext(spy, "GET", "/api/v2/metrics/default/hot", nil)
		r.Header.Set("Authorization", benchToken)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET: %d %s", w.Code, w.Body)
		}
		return spy.calls.Load(), w
	}
	first, w1 := get()
	if first == 0 {
		t.Fatal("the uncached GET never asked for Done: the spy sees nothing")
	}
	again, w2 := get()
	if again != 0 {
		t.Errorf("the cached GET asked for Done %d times, want 0", again)
	}
	if w1.Body.String() != w2.Body.String() || w1.Header().Get("ETag") != w2.Header().Get("ETag") || !strings.Contains(w2.Body.String(), `"key":"hot"`) {
		t.Errorf("cached answer differs: %s %q vs %s %q", w1.Body, w1.Header().Get("ETag"), w2.Body, w2.Header().Get("ETag"))
	}
}
