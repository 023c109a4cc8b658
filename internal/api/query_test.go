package api

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
)

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParsePage(t *testing.T) {
	const limitMsg = "limit must be an integer between 1 and 50"
	const offsetMsg = "offset must be a non-negative integer"
	tests := []struct {
		limit, offset string
		want          core.Page
		wantErr       string
	}{
		{"", "", core.Page{Limit: 20}, ""},
		{"1", "", core.Page{Limit: 1}, ""},
		{"50", "", core.Page{Limit: 50}, ""},
		{"25", "10", core.Page{Limit: 25, Offset: 10}, ""},
		{"", "0", core.Page{Limit: 20}, ""},
		{"", "100000", core.Page{Limit: 20, Offset: 100000}, ""},
		{"0", "", core.Page{}, limitMsg},
		{"51", "", core.Page{}, limitMsg},
		{"-1", "", core.Page{}, limitMsg},
		{"abc", "", core.Page{}, limitMsg},
		{"1.5", "", core.Page{}, limitMsg},
		{" 5", "", core.Page{}, limitMsg},
		{"99999999999999999999", "", core.Page{}, limitMsg},
		{"", "-1", core.Page{}, offsetMsg},
		{"", "x", core.Page{}, offsetMsg},
		{"", "1e3", core.Page{}, offsetMsg},
		{"0", "-1", core.Page{}, limitMsg}, // limit is checked first
	}
	for _, tt := range tests {
		t.Run("limit="+tt.limit+",offset="+tt.offset, func(t *testing.T) {
			got, err := parsePage(tt.limit, tt.offset, catalog.DefaultMetricLimit, catalog.MaxMetricLimit)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("parsePage error mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				if k := core.KindOf(err); k != core.KindInvalid {
					t.Errorf("core.KindOf = %v, want core.KindInvalid", k)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parsePage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSort(t *testing.T) {
	unsupported := func(f string) string {
		return `sort field "` + f + `" is not supported; use createdAt or name, with - for descending order`
	}
	tests := []struct {
		in      string
		want    []core.SortKey
		wantErr string
	}{
		{"", nil, ""},
		{" , ,", nil, ""},
		{"createdAt", []core.SortKey{{Field: "createdAt"}}, ""},
		{"-createdAt", []core.SortKey{{Field: "createdAt", Desc: true}}, ""},
		{"name", []core.SortKey{{Field: "name"}}, ""},
		{"createdAt,-name", []core.SortKey{{Field: "createdAt"}, {Field: "name", Desc: true}}, ""},
		{" -name , createdAt ", []core.SortKey{{Field: "name", Desc: true}, {Field: "createdAt"}}, ""},
		{"bogus", nil, unsupported("bogus")},
		{"-bogus", nil, unsupported("bogus")},
		{"Name", nil, unsupported("Name")},
		{"--name", nil, unsupported("-name")},
		{"-", nil, unsupported("")},
		{"+name", nil, unsupported("+name")},
		{"name,bogus", nil, unsupported("bogus")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSort(tt.in, "createdAt", "name")
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Fatalf("parseSort(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseSort(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestPageBounds: offsets beyond maxOffset are refused, so that paging
// links cannot overflow.
func TestPageBounds(t *testing.T) {
	for _, c := range []struct{ offset, want string }{
		{"0", ""},
		{"1000000000", ""},
		{"1000000001", "offset must be at most 1000000000"},
		{"9223372036854775807", "offset must be at most 1000000000"},
		{"9223372036854775808", "offset must be a non-negative integer"},
		{"-1", "offset must be a non-negative integer"},
	} {
		_, err := parsePage("", c.offset, 20, 50)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("parsePage(offset=%s) = %q, want %q", c.offset, got, c.want)
		}
	}
}

// TestFilterErrorsKeepPosition: list-filter errors are core.KindInvalid
// and still unwrap to the *filter.Error with its byte position.
func TestFilterErrorsKeepPosition(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		pos   int
		msg   string
	}{
		{"metric repeat", func(s string) error { _, err := parseMetricQuery("", "", "", s); return err },
			"eventKind equals custom, eventKind equals click", 25, `field "eventKind" may appear only once`},
		{"metric value", func(s string) error { _, err := parseMetricQuery("", "", "", s); return err },
			"isNumeric equals maybe", 17, "expected true or false, found string \"maybe\""},
		{"metric syntax", func(s string) error { _, err := parseMetricQuery("", "", "", s); return err },
			`query equals "a\u0000"`, 15, `invalid escape sequence in string: \u0000 (NUL) is not allowed`},
		{"group repeat", func(s string) error { _, err := parseGroupQuery("", "", "", s); return err },
			"kind equals funnel and kind equals standard", 23, `field "kind" may appear only once`},
		{"group value", func(s string) error { _, err := parseGroupQuery("", "", "", s); return err },
			"kind equals nope", 12, "must be one of funnel, standard, guardrail; found \"nope\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.in)
			if k := core.KindOf(err); k != core.KindInvalid {
				t.Fatalf("error %v has kind %v, want KindInvalid", err, k)
			}
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v does not unwrap to a *filter.Error", err)
			}
			if fe.Pos != tt.pos || fe.Msg != tt.msg {
				t.Errorf("filter error at %d %q, want at %d %q", fe.Pos, fe.Msg, tt.pos, tt.msg)
			}
			if want := (&filter.Error{Pos: tt.pos, Msg: tt.msg}).Error(); err.Error() != want {
				t.Errorf("message %q, want %q", err.Error(), want)
			}
		})
	}
}
