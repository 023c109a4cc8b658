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
	"slices"
	"strconv"
	"unsafe"
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

// Decode reads a JSON array of events and returns those of the kinds
// metrics use. Only a body that is not a JSON array (or not JSON) is an
// error: an SDK that gets a 4xx for a batch it considers well formed stops
// sending for good. An element that is not an object is skipped, and a
// field of an unexpected type is left empty (an event whose key is not a
// string has no key and counts nothing); skipped counts the elements that
// were not objects or had no kind.
//
// Decode is a single-pass scanner that validates the whole body as
// encoding/json does and reads only the fields metrics use (kind, key,
// url, creationDate, metricValue, context, contextKeys, userKey, user),
// with encoding/json's rules: field names match case-insensitively, the
// last occurrence of a field wins, null leaves a field as it was, and the
// same nesting limit. FuzzDecode checks it against encoding/json.
//
// The events' strings share memory with body (or with copies of its
// escaped strings): body must not change while they are in use.
func Decode(body []byte) (evs []Event, skipped int, err error) {
	return decode(&decoder{b: body})
}

// Scratch is memory for decoding that is reused from one body to the next.
type Scratch struct {
	evs  []Event
	slab []ContextRef
}

// maxKeptEvents bounds the events whose memory a Scratch keeps.
const maxKeptEvents = 4096

// Decode is Decode into sc's memory: the events are valid until the next
// call of sc.Decode or sc.Reset.
func (sc *Scratch) Decode(body []byte) (evs []Event, skipped int, err error) {
	sc.Reset()
	d := &decoder{b: body, evs: sc.evs, slab: sc.slab}
	evs, skipped, err = decode(d)
	if err == nil && cap(evs) <= maxKeptEvents && cap(d.slab) <= maxKeptEvents {
		sc.evs, sc.slab = evs[:0], d.slab[:0]
	}
	return evs, skipped, err
}

// Reset drops what the last Decode returned, so that sc holds on to no
// body.
func (sc *Scratch) Reset() {
	clear(sc.evs[:cap(sc.evs)])
	clear(sc.slab[:cap(sc.slab)])
}

func decode(d *decoder) (evs []Event, skipped int, err error) {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		return nil, 0, ErrMalformed
	}
	evs, skipped = d.array()
	d.ws()
	if d.bad || d.i != len(d.b) {
		return nil, 0, ErrMalformed
	}
	return evs, skipped, nil
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type decoder struct {
	b     []byte
	i     int
	depth int
	bad   bool
	// slab backs the Contexts of the events of one body.
	slab []ContextRef
	// evs is where the events go, when not nil.
	evs []Event
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// fail marks the body malformed and stops the scan.
func (d *decoder) fail() {
	d.bad = true
	d.i = len(d.b)
}

func (d *decoder) push() bool {
	d.depth++
	if d.depth > maxDepth {
		d.fail()
		return false
	}
	return true
}

// array reads the top-level array of events; d.b[d.i] is '['.
func (d *decoder) array() ([]Event, int) {
	d.i++
	if !d.push() {
		return nil, 0
	}
	evs := d.evs[:0]
	if evs == nil {
		evs = make([]Event, 0, 128)
	}
	skipped := 0
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return evs, 0
	}
	for !d.bad {
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '{' {
			var w wire
			d.event(&w)
			if d.bad {
				break
			}
			switch w.kind {
			case KindCustom, KindPageview, KindClick:
				evs = append(evs, d.toEvent(&w))
			case "":
				skipped++
			}
		} else {
			d.skipValue()
			skipped++
		}
		d.ws()
		if d.i >= len(d.b) {
			d.fail()
			break
		}
		c := d.b[d.i]
		d.i++
		if c == ']' {
			d.depth--
			break
		}
		if c != ',' {
			d.fail()
		}
	}
	return evs, skipped
}

// wire is what one event object holds of the fields metrics use.
type wire struct {
	kind, key, url, userKey string
	created                 float64
	value                   float64
	hasValue                bool
	// context is the raw value of the last "context" field.
	context []byte
	// ctxKeys is the contextKeys object; hasCtxKeys whether it has entries.
	ctxKeys []ContextRef
	// user is set while the event has a "user" object; userObjKey its key.
	user       bool
	userObjKey string
}

// field names of wire, matched as encoding/json matches them.
const (
	fNone = iota
	fKind
	fKey
	fURL
	fCreationDate
	fMetricValue
	fContext
	fContextKeys
	fUserKey
	fUser
)

func eventField(name []byte) int {
	switch len(name) {
	case 3:
		if fold(name, "key") {
			return fKey
		}
		if fold(name, "url") {
			return fURL
		}
	case 4:
		if fold(name, "kind") {
			return fKind
		}
		if fold(name, "user") {
			return fUser
		}
	case 7:
		if fold(name, "context") {
			return fContext
		}
		if fold(name, "userKey") {
			return fUserKey
		}
	case 11:
		if fold(name, "metricValue") {
			return fMetricValue
		}
		if fold(name, "contextKeys") {
			return fContextKeys
		}
	case 12:
		if fold(name, "creationDate") {
			return fCreationDate
		}
	}
	// Non-ASCII names may fold to ASCII ones of another length (the
	// Kelvin sign is a k): check them the slow way.
	for _, c := range name {
		if c >= 0x80 {
			return eventFieldSlow(name)
		}
	}
	return fNone
}

func eventFieldSlow(name []byte) int {
	for f, n := range [...]string{fKind: "kind", fKey: "key", fURL: "url", fCreationDate: "creationDate",
		fMetricValue: "metricValue", fContext: "context", fContextKeys: "contextKeys", fUserKey: "userKey", fUser: "user"} {
		if n != "" && bytes.EqualFold(name, []byte(n)) {
			return f
		}
	}
	return fNone
}

// fold reports whether name equals the ASCII string s ignoring case.
func fold(name []byte, s string) bool {
	if len(name) != len(s) {
		return false
	}
	for i := range len(s) {
		if lower(name[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// event reads one event object into w; d.b[d.i] is '{'.
func (d *decoder) event(w *wire) {
	for n, name, ok := d.open(), []byte(nil), true; ok; {
		if name, ok = d.next(&n); !ok {
			break
		}
		switch eventField(name) {
		case fKind:
			if s, ok := d.optString(); ok {
				w.kind = internKind(s)
			}
		case fKey:
			if s, ok := d.optString(); ok {
				w.key = bytesString(s)
			}
		case fURL:
			if s, ok := d.optString(); ok {
				w.url = bytesString(s)
			}
		case fUserKey:
			if s, ok := d.optString(); ok {
				w.userKey = bytesString(s)
			}
		case fCreationDate:
			if n, ok := d.optNumber(); ok {
				if v, err := strconv.ParseFloat(bytesString(n), 64); err == nil {
					w.created = v
				}
			}
		case fMetricValue:
			if n, ok := d.optNumber(); ok {
				v, err := strconv.ParseFloat(bytesString(n), 64)
				if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
					w.value, w.hasValue = v, true
				}
			}
		case fContext:
			start := d.i
			d.skipValue()
			w.context = d.b[start:d.i]
		case fContextKeys:
			d.contextKeys(w)
		case fUser:
			d.user(w)
		default:
			d.skipValue()
		}
	}
}

// bytesString converts without copying, for strconv calls that do not
// keep their argument.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func internKind(s []byte) string {
	switch string(s) {
	case KindCustom:
		return KindCustom
	case KindPageview:
		return KindPageview
	case KindClick:
		return KindClick
	case "":
		return ""
	}
	// Any other kind is ignored; it needs only to be non-empty.
	return "other"
}

func internContextKind(s []byte) string {
	switch string(s) {
	case "user":
		return "user"
	case "org":
		return "org"
	case "device":
		return "device"
	case "multi":
		return "multi"
	}
	return bytesString(s)
}

func (d *decoder) contextKeys(w *wire) {
	if d.i < len(d.b) && d.b[d.i] == 'n' {
		d.skipValue()
		if !d.bad {
			w.ctxKeys = w.ctxKeys[:0]
		}
		return
	}
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		d.skipValue()
		return
	}
	for n, name, ok := d.open(), []byte(nil), true; ok; {
		if name, ok = d.next(&n); !ok {
			break
		}
		kind := internContextKind(name)
		key := ""
		if s, ok := d.optString(); ok {
			key = bytesString(s)
		}
		if i := slices.IndexFunc(w.ctxKeys, func(c ContextRef) bool { return c.Kind == kind }); i >= 0 {
			w.ctxKeys[i].Key = key
		} else {
			w.ctxKeys = append(w.ctxKeys, ContextRef{Kind: kind, Key: key})
		}
	}
}

func (d *decoder) user(w *wire) {
	if d.i < len(d.b) && d.b[d.i] == 'n' {
		d.skipValue()
		w.user, w.userObjKey = false, ""
		return
	}
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		d.skipValue()
		return
	}
	w.user = true
	for n, name, ok := d.open(), []byte(nil), true; ok; {
		if name, ok = d.next(&n); !ok {
			break
		}
		if isName(name, "key") {
			if s, ok := d.optString(); ok {
				w.userObjKey = bytesString(s)
			}
			continue
		}
		d.skipValue()
	}
}

func (d *decoder) toEvent(w *wire) Event {
	e := Event{Kind: w.kind, Key: w.key, URL: w.url, Value: w.value, HasValue: w.hasValue}
	if w.created > 0 && w.created < math.MaxInt64 {
		e.CreationDate = int64(w.created)
	}
	start := len(d.slab)
	switch {
	case len(w.context) > 0 && w.context[0] == '{':
		d.context(w.context)
	case len(w.ctxKeys) > 0:
		d.slab = append(d.slab, w.ctxKeys...)
	case w.userKey != "":
		d.slab = append(d.slab, ContextRef{Kind: "user", Key: w.userKey})
	case w.user && w.userObjKey != "":
		d.slab = append(d.slab, ContextRef{Kind: "user", Key: w.userObjKey})
	}
	if len(d.slab) > start {
		e.Contexts = d.slab[start:len(d.slab):len(d.slab)]
	}
	return e
}

// context appends the contexts of a single or multi context (raw, already
// validated, is an object) to d.slab; a context without a kind is an
// old-style user. A kind or key of the wrong type voids the context.
func (d *decoder) context(raw []byte) {
	c := decoder{b: raw}
	// member is one member of the object as a map entry: the contexts of
	// a multi context are its object members other than "kind".
	type member struct {
		name   []byte
		object bool
		valid  bool
		key    []byte
	}
	var buf [8]member
	members := buf[:0]
	var kind string
	var key []byte
	typeErr := false
	for n, name, ok := c.open(), []byte(nil), true; ok; {
		if name, ok = c.next(&n); !ok {
			break
		}
		m := member{name: name, object: c.i < len(c.b) && c.b[c.i] == '{'}
		switch {
		case isName(name, "kind"):
			s, ok, terr := c.stringField()
			if ok {
				kind = internContextKind(s)
			}
			typeErr = typeErr || terr
		case isName(name, "key"):
			s, ok, terr := c.stringField()
			if ok {
				key = s
			}
			typeErr = typeErr || terr
		case m.object:
			m.valid, m.key = c.subContext()
		default:
			c.skipValue()
		}
		replaced := false
		for i := range members {
			if bytes.Equal(members[i].name, m.name) {
				members[i], replaced = m, true
				break
			}
		}
		if !replaced {
			members = append(members, m)
		}
	}
	if typeErr {
		return
	}
	switch kind {
	case "":
		if len(key) > 0 {
			d.slab = append(d.slab, ContextRef{Kind: "user", Key: bytesString(key)})
		}
	case "multi":
		for _, m := range members {
			if string(m.name) == "kind" || !m.object || !m.valid || len(m.key) == 0 {
				continue
			}
			d.slab = append(d.slab, ContextRef{Kind: internContextKind(m.name), Key: bytesString(m.key)})
		}
	default:
		if len(key) > 0 {
			d.slab = append(d.slab, ContextRef{Kind: kind, Key: bytesString(key)})
		}
	}
}

// isName reports whether a member name matches the field name s as
// encoding/json matches them (case folding, Unicode included).
func isName(name []byte, s string) bool {
	return fold(name, s) || (len(name) > len(s) && bytes.EqualFold(name, []byte(s)))
}

// subContext reads one context of a multi context: whether its kind and
// key had the right types, and its key.
func (d *decoder) subContext() (bool, []byte) {
	valid := true
	var key []byte
	for n, name, ok := d.open(), []byte(nil), true; ok; {
		if name, ok = d.next(&n); !ok {
			break
		}
		isKey := isName(name, "key")
		if isKey || isName(name, "kind") {
			s, ok, terr := d.stringField()
			if ok && isKey {
				key = s
			}
			valid = valid && !terr
			continue
		}
		d.skipValue()
	}
	return valid, key
}

// stringField reads a value for a string field: the string, or nothing
// for null, or a type error for anything else.
func (d *decoder) stringField() (s []byte, ok, typeErr bool) {
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '"':
			s, ok = d.str()
			return s, ok, false
		case 'n':
			d.skipValue()
			return nil, false, false
		}
	}
	d.skipValue()
	return nil, false, true
}

// optString reads a value and returns it if it is a string.
func (d *decoder) optString() ([]byte, bool) {
	if d.i < len(d.b) && d.b[d.i] == '"' {
		return d.str()
	}
	d.skipValue()
	return nil, false
}

// optNumber reads a value and returns its text if it is a number.
func (d *decoder) optNumber() ([]byte, bool) {
	if d.i < len(d.b) && (d.b[d.i] == '-' || (d.b[d.i] >= '0' && d.b[d.i] <= '9')) {
		start := d.i
		d.number()
		return d.b[start:d.i], !d.bad
	}
	d.skipValue()
	return nil, false
}

// open starts reading an object; d.b[d.i] is '{'. Read its members with
// next, consuming each value before the next call.
func (d *decoder) open() int {
	d.i++
	d.push()
	return 0
}

// next returns the name of the object's next member, with d positioned at
// its value, or false at the object's end (or an error).
func (d *decoder) next(n *int) ([]byte, bool) {
	if d.bad {
		return nil, false
	}
	d.ws()
	if d.i >= len(d.b) {
		d.fail()
		return nil, false
	}
	if d.b[d.i] == '}' {
		d.i++
		d.depth--
		return nil, false
	}
	if *n > 0 {
		if d.b[d.i] != ',' {
			d.fail()
			return nil, false
		}
		d.i++
		d.ws()
	}
	*n++
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return nil, false
	}
	name, ok := d.str()
	if !ok {
		return nil, false
	}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		d.fail()
		return nil, false
	}
	d.i++
	d.ws()
	return name, true
}

// str reads a string and returns its contents, unescaped; d.b[d.i] is '"'.
// The result may share d.b.
func (d *decoder) str() ([]byte, bool) {
	start := d.i
	d.i++
	plain := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if plain {
				return d.b[start+1 : d.i-1], true
			}
			// Escapes and non-ASCII (invalid UTF-8 becomes U+FFFD) are
			// rare: encoding/json unquotes them.
			var s string
			if json.Unmarshal(d.b[start:d.i], &s) != nil {
				d.fail()
				return nil, false
			}
			return []byte(s), true
		case c < 0x20:
			d.fail()
			return nil, false
		case c == '\\':
			plain = false
			d.i++
			if d.i >= len(d.b) {
				d.fail()
				return nil, false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if d.i+4 >= len(d.b) {
					d.fail()
					return nil, false
				}
				for _, h := range d.b[d.i+1 : d.i+5] {
					if !isHex(h) {
						d.fail()
						return nil, false
					}
				}
				d.i += 5
			default:
				d.fail()
				return nil, false
			}
		case c >= 0x80:
			plain = false
			d.i++
		default:
			d.i++
		}
	}
	d.fail()
	return nil, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads a number in JSON's grammar.
func (d *decoder) number() {
	b := d.b
	if d.i < len(b) && b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(b) && b[d.i] == '0':
		d.i++
	case d.i < len(b) && b[d.i] >= '1' && b[d.i] <= '9':
		for d.i < len(b) && b[d.i] >= '0' && b[d.i] <= '9' {
			d.i++
		}
	default:
		d.fail()
		return
	}
	if d.i < len(b) && b[d.i] == '.' {
		d.i++
		if d.i >= len(b) || b[d.i] < '0' || b[d.i] > '9' {
			d.fail()
			return
		}
		for d.i < len(b) && b[d.i] >= '0' && b[d.i] <= '9' {
			d.i++
		}
	}
	if d.i < len(b) && (b[d.i] == 'e' || b[d.i] == 'E') {
		d.i++
		if d.i < len(b) && (b[d.i] == '+' || b[d.i] == '-') {
			d.i++
		}
		if d.i >= len(b) || b[d.i] < '0' || b[d.i] > '9' {
			d.fail()
			return
		}
		for d.i < len(b) && b[d.i] >= '0' && b[d.i] <= '9' {
			d.i++
		}
	}
}

// skipValue reads and validates one value of any type.
func (d *decoder) skipValue() {
	if d.i >= len(d.b) {
		d.fail()
		return
	}
	switch c := d.b[d.i]; {
	case c == '{':
		for n, ok := d.open(), true; ok; {
			if _, ok = d.next(&n); ok {
				d.skipValue()
			}
		}
	case c == '[':
		d.i++
		if !d.push() {
			return
		}
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			d.depth--
			return
		}
		for !d.bad {
			d.ws()
			d.skipValue()
			d.ws()
			if d.i >= len(d.b) {
				d.fail()
				return
			}
			c := d.b[d.i]
			d.i++
			if c == ']' {
				d.depth--
				return
			}
			if c != ',' {
				d.fail()
			}
		}
	case c == '"':
		d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		d.number()
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	default:
		d.fail()
	}
}

func (d *decoder) literal(s string) {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		d.fail()
		return
	}
	d.i += len(s)
}
