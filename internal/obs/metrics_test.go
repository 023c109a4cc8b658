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
