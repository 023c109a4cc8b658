package obs

import (
	"testing"
	"time"
)

// TestMethodLabelBounded checks that invented methods share one series.
func TestMethodLabelBounded(t *testing.T) {
	m := NewMetrics("test")
	m.RequestStarted()
	m.RequestFinished("unmatched", "BREW", 405, time.Millisecond)
	m.RequestStarted()
	m.RequestFinished("unmatched", "get", 405, time.Millisecond)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "metricsd_http_requests_total" {
			continue
		}
		if len(f.Metric) != 1 {
			t.Fatalf("%d series, want 1", len(f.Metric))
		}
		for _, l := range f.Metric[0].Label {
			if l.GetName() == "method" && l.GetValue() != "other" {
				t.Errorf("method label %q, want other", l.GetValue())
			}
		}
		if v := f.Metric[0].Counter.GetValue(); v != 2 {
			t.Errorf("count %v, want 2", v)
		}
		return
	}
	t.Fatal("no metricsd_http_requests_total")
}

// TestRememberedSeriesCount checks that the series a request or a cache
// lookup finds again (remembered after its first use) keep counting, each
// under its own labels.
func TestRememberedSeriesCount(t *testing.T) {
	m := NewMetrics("test")
	for range 3 {
		m.RequestFinished("/a", "GET", 200, time.Millisecond)
	}
	m.RequestFinished("/a", "GET", 404, time.Millisecond)
	m.CacheLookup("auth", true)
	m.CacheLookup("auth", true)
	m.CacheLookup("auth", false)
	m.CacheLookup("metric", true)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.Metric {
			key := f.GetName()
			for _, l := range s.Label {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case s.Counter != nil:
				got[key] = s.Counter.GetValue()
			case s.Histogram != nil:
				got[key] = float64(s.Histogram.GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"metricsd_http_requests_total method=GET route=/a status=200":           3,
		"metricsd_http_requests_total method=GET route=/a status=404":           1,
		"metricsd_http_request_duration_seconds method=GET route=/a status=200": 3,
		"metricsd_cache_lookups_total cache=auth result=hit":                    2,
		"metricsd_cache_lookups_total cache=auth result=miss":                   1,
		"metricsd_cache_lookups_total cache=metric result=hit":                  1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}
