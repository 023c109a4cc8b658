package api

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
)

// This file reads the query parameters shared by every list: paging,
// sorting, the two filter forms and expand. The per-endpoint parsers are in
// query_*.go; the query types they build belong to the catalog.

// maxOffset bounds the offset of every paged list, so that offsets and the
// links computed from them stay far from integer overflow.
const maxOffset = 1_000_000_000

// invalid returns a core.KindInvalid error about a query parameter.
func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }

// parsePage reads limit and offset query parameters; offset may be at most
// maxOffset.
func parsePage(limit, offset string, def, max int) (core.Page, error) {
	p := core.Page{Limit: def}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > max {
			return p, invalid("limit must be an integer between 1 and %d", max)
		}
		p.Limit = n
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			return p, invalid("offset must be a non-negative integer")
		}
		if n > maxOffset {
			return p, invalid("offset must be at most %d", maxOffset)
		}
		p.Offset = n
	}
	return p, nil
}

// parseSort reads a comma-separated sort parameter; "-" before a field sorts
// it in descending order.
func parseSort(s string, allowed ...string) ([]core.SortKey, error) {
	var keys []core.SortKey
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k := core.SortKey{Field: part}
		if strings.HasPrefix(part, "-") {
			k = core.SortKey{Field: part[1:], Desc: true}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Field
		}
		if !ok {
			return nil, invalid("sort field %q is not supported; use %s, with - for descending order", k.Field, strings.Join(allowed, " or "))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseFilter parses a list filter and checks it against spec (fields,
// operators, and fields that may appear only once). Errors are
// core.KindInvalid and keep the *filter.Error, with its byte position, for
// errors.As.
func parseFilter(s string, spec filter.Spec) (filter.Expr, error) {
	expr, err := filter.Parse(s)
	if err == nil {
		err = expr.Check(spec)
	}
	if err != nil {
		return filter.Expr{}, filterInvalid(err)
	}
	return expr, nil
}

// filterError is a core.KindInvalid error about a list filter. It unwraps
// to both the *core.Error (so that transports pick the status) and the
// *filter.Error that says where the problem is.
type filterError struct {
	kind  *core.Error
	Cause *filter.Error
}

func (e *filterError) Error() string { return e.kind.Message }

// Unwrap returns the classified error and the filter error.
func (e *filterError) Unwrap() []error { return []error{e.kind, e.Cause} }

// filterInvalid classifies an error of the filter package as KindInvalid,
// keeping its position.
func filterInvalid(err error) error {
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return invalid("invalid filter: %s", err.Error())
	}
	return &filterError{kind: &core.Error{Kind: core.KindInvalid, Message: fe.Error()}, Cause: fe}
}

type colonClause struct{ field, value string }

// parseColonFilter splits a "field:value,field:value" filter and checks
// every field against allowed. A field may appear once.
func parseColonFilter(s string, allowed []string) ([]colonClause, error) {
	var out []colonClause
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		field, value, ok := strings.Cut(part, ":")
		field, value = strings.TrimSpace(field), strings.TrimSpace(value)
		if !ok || value == "" {
			return nil, invalid("filter %q must have the form field:value", part)
		}
		if !slices.Contains(allowed, field) {
			return nil, invalid("filter field %q is not supported; use %s", field, strings.Join(allowed, ", "))
		}
		if seen[field] {
			return nil, invalid("filter field %q may appear only once", field)
		}
		seen[field] = true
		out = append(out, colonClause{field, value})
	}
	return out, nil
}

func parseFilterBool(cl colonClause) (bool, error) {
	switch cl.value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid("filter field %q must be true or false", cl.field)
}

func splitBar(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, "|") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// splitTags splits a tag filter on "+". A "+" that reached the server
// unencoded has become a space, so spaces separate too (tags cannot hold
// either).
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ' ' }) {
		if t = strings.ToLower(t); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// parseExpand splits a comma-separated expand parameter and checks every
// name against allowed, one of the catalog's per-read lists.
func parseExpand(s string, allowed []catalog.Expand) (catalog.ExpandSet, error) {
	set := catalog.ExpandSet{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		x := catalog.Expand(part)
		if !slices.Contains(allowed, x) {
			names := make([]string, len(allowed))
			for i, a := range allowed {
				names[i] = string(a)
			}
			return nil, invalid("expand %q is not supported; supported values: %s", part, strings.Join(names, ", "))
		}
		set[x] = true
	}
	return set, nil
}

// colonList is what a list in LaunchDarkly's "field:value" filter style
// asks for: a page, a sort and the filter's clauses.
type colonList struct {
	page    core.Page
	sort    []core.SortKey
	clauses []colonClause
}

// parseColonList reads limit, offset, sort (one of sorts; no sort
// parameter when sorts is empty) and a "field:value,…" filter over fields.
func parseColonList(limit, offset, sort, filterText string, defLimit, maxLimit int, sorts, fields []string) (colonList, error) {
	var l colonList
	var err error
	if l.page, err = parsePage(limit, offset, defLimit, maxLimit); err != nil {
		return l, err
	}
	if len(sorts) > 0 {
		if l.sort, err = parseSort(sort, sorts...); err != nil {
			return l, err
		}
	}
	l.clauses, err = parseColonFilter(filterText, fields)
	return l, err
}
