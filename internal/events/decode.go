// Package events owns what metricsd does with the events LaunchDarkly SDKs
// send: decoding LaunchDarkly's event payloads, matching events to metrics
// (custom event keys, goal keys, URL matchers), exactly-once counting by
// payload ID, hourly rollups with distinct-context sketches, the flusher
// that commits concurrent batches in one transaction, and the queries of
// the event explorer. It knows nothing of HTTP or SQL.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// Event kinds that feed metrics. Every other kind (identify, index,
// feature, summary, click_pageview, migration_op, diagnostic, …) is
// accepted and ignored.
const (
	KindCustom   = "custom"
	KindPageview = "pageview"
	KindClick    = "click"
)

// Event is what metricsd keeps of one SDK event.
type Event struct {
	Kind string
	Key  string
	URL  string
	// CreationDate is the SDK's epoch-millisecond timestamp; 0 when absent.
	CreationDate int64
	// Value is metricValue, when the event has a finite one.
	Value    float64
	HasValue bool
	// Contexts are the context kinds and keys the event is about.
	Contexts []ContextRef
}

// ContextRef is one context an event is about.
type ContextRef struct{ Kind, Key string }

// ErrMalformed is returned for a body that is not a JSON array.
var ErrMalformed = errors.New("the body must be a JSON array of events")

// wireEvent holds the fields of LaunchDarkly's event schema 4 (and the
// older user-based schema) that metrics need; the rest is skipped.
type wireEvent struct {
	Kind         string            `json:"kind"`
	Key          string            `json:"key"`
	URL          string            `json:"url"`
	CreationDate float64           `json:"creationDate"`
	MetricValue  lenientFloat      `json:"metricValue"`
	Context      json.RawMessage   `json:"context"`
	ContextKeys  map[string]string `json:"contextKeys"`
	UserKey      string            `json:"userKey"`
	User         *struct {
		Key string `json:"key"`
	} `json:"user"`
}

// lenientFloat is a metricValue: a finite JSON number, or nothing. Any
// other value leaves the event without a value instead of failing it.
type lenientFloat struct {
	v  float64
	ok bool
}

func (f *lenientFloat) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 64)
	if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		f.v, f.ok = v, true
	}
	return nil
}

type wireContext struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
}

// Decode reads a JSON array of events and returns those of the kinds
// metrics use. Only a body that is not a JSON array (or not JSON) is an
// error: an SDK that gets a 4xx for a batch it considers well formed stops
// sending for good. An element that is not an object is skipped, and a
// field of an unexpected type is left empty (an event whose key is not a
// string has no key and counts nothing); skipped counts the elements that
// were not objects.
func Decode(body []byte) (evs []Event, skipped int, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, 0, ErrMalformed
	}
	var wire []wireEvent
	if err := json.Unmarshal(body, &wire); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, 0, ErrMalformed
		}
		// encoding/json decodes the rest of the array past a type error.
	}
	evs = make([]Event, 0, len(wire))
	for i := range wire {
		w := &wire[i]
		switch w.Kind {
		case KindCustom, KindPageview, KindClick:
			evs = append(evs, w.event())
		case "":
			skipped++
		}
	}
	return evs, skipped, nil
}

func (w *wireEvent) event() Event {
	e := Event{Kind: w.Kind, Key: w.Key, URL: w.URL}
	if w.CreationDate > 0 && w.CreationDate < math.MaxInt64 {
		e.CreationDate = int64(w.CreationDate)
	}
	if v := w.MetricValue; v.ok {
		e.Value, e.HasValue = v.v, true
	}
	switch {
	case len(w.Context) > 0 && w.Context[0] == '{':
		e.Contexts = decodeContext(w.Context)
	case len(w.ContextKeys) > 0:
		for kind, key := range w.ContextKeys {
			e.Contexts = append(e.Contexts, ContextRef{Kind: kind, Key: key})
		}
	case w.UserKey != "":
		e.Contexts = []ContextRef{{Kind: "user", Key: w.UserKey}}
	case w.User != nil && w.User.Key != "":
		e.Contexts = []ContextRef{{Kind: "user", Key: w.User.Key}}
	}
	return e
}

// decodeContext reads a single or multi context; a context without a kind
// is an old-style user.
func decodeContext(raw json.RawMessage) []ContextRef {
	var c wireContext
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil
	}
	switch c.Kind {
	case "":
		if c.Key == "" {
			return nil
		}
		return []ContextRef{{Kind: "user", Key: c.Key}}
	case "multi":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil
		}
		var out []ContextRef
		for kind, v := range m {
			if kind == "kind" || len(v) == 0 || v[0] != '{' {
				continue
			}
			var sub wireContext
			if json.Unmarshal(v, &sub) == nil && sub.Key != "" {
				out = append(out, ContextRef{Kind: kind, Key: sub.Key})
			}
		}
		return out
	default:
		if c.Key == "" {
			return nil
		}
		return []ContextRef{{Kind: c.Kind, Key: c.Key}}
	}
}
