package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Page is what every template gets: the layout reads its fields, a page's
// own template reads Data (the value its handler passed to render).
type Page struct {
	// Title is the page's title; render takes it from Data when Data has
	// a PageTitle method, else from the page's name.
	Title string
	// Principal is the signed-in member and token; zero when signed out.
	Principal core.Principal
	SignedIn  bool
	// CSRF is the token every form sends in its hidden "csrf" field (and
	// fetch calls in the X-CSRF-Token header).
	CSRF string
	// Project is the key of the current project ("" outside one), and
	// Projects those the principal may see, for the switcher.
	Project  string
	Projects []catalog.Project
	// Nav is the navigation entry of the page: "metrics", "metric-groups"
	// or "events"; NavItems the entries of the current project whose pages
	// exist (a route "GET /projects/{projectKey}/NAME" in the table).
	Nav      string
	NavItems []navItem
	// Flash is the message the previous request left (after a redirect).
	Flash string
	// Path is the request's path, for links back to it.
	Path string
	Data any

	ctx context.Context
}

// Can reports whether the principal may take action a on resource spec,
// decided by the same evaluator as the API's _access and its enforcement.
func (p *Page) Can(a string, spec resource.Spec) bool { return can(p.ctx, action.Action(a), spec) }

// navItem is one entry of the navigation.
type navItem struct {
	Label, Href string
	Current     bool
}

// navEntry is an entry the navigation may have.
type navEntry struct{ name, label string }

// navEntries are the navigation's entries in order.
func navEntries() []navEntry {
	return []navEntry{{"metrics", "Metrics"}, {"metric-groups", "Groups"}, {"events", "Events"}}
}

// can reports whether the principal in ctx may take action a on spec.
func can(ctx context.Context, a action.Action, spec resource.Spec) bool {
	return core.Allowed(ctx, a, spec)
}

// titled is implemented by page data that names its page.
type titled interface{ PageTitle() string }

// pageTemplate is one page's template set: the layout and the page.
type pageTemplate struct{ t *template.Template }

// funcs are the template functions every page may use.
func funcs(a *assets) template.FuncMap {
	return template.FuncMap{
		// asset is the content-hashed URL of a file under static/.
		"asset": a.url,
		// can: {{if can $ "deleteMetric" (metricSpec $.Project .Key .Def.Tags)}}
		"can":         func(p *Page, a string, spec resource.Spec) bool { return p.Can(a, spec) },
		"projectSpec": resource.Project,
		"metricSpec":  resource.Metric,
		"groupSpec":   resource.MetricGroup,
		// canEditMetric: may the principal change some field of the metric.
		"canEditMetric": canEditMetric,
		"anyMetricSpec": anyMetricSpec,
		"pathEscape":    url.PathEscape,
		"join":          strings.Join,
		// when and iso write a time for reading and for <time datetime>;
		// count an integer with thousands separators; humanize a status
		// ("not_started" → "Not started").
		"when":     when,
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"count":    count,
		"humanize": humanize,
		"add":      func(a, b int) int { return a + b },
		"sub":      func(a, b int) int { return a - b },
	}
}

// parsePages parses every templates/*.html other than layout.html as a
// page over the layout, keyed by its name without ".html".
func parsePages(a *assets) map[string]*pageTemplate {
	layout := template.Must(template.New("layout.html").Funcs(funcs(a)).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		pages[strings.TrimSuffix(base, ".html")] = &pageTemplate{t: t}
	}
	return pages
}

// render writes the page name (templates/NAME.html) in the layout with
// status. It renders into a buffer first, so that a template error becomes
// the error page, never half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	pt := u.pages[name]
	if pt == nil {
		u.log.ErrorContext(r.Context(), "web: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := u.pageData(w, r, name, data)
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		u.log.ErrorContext(r.Context(), "web: template failed", "page", name, "err", err)
		if name != "error" {
			u.render(w, r, http.StatusInternalServerError, "error", errorData{Status: http.StatusInternalServerError, Message: "The page could not be shown."})
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageData builds the Page of a request.
func (u *UI) pageData(w http.ResponseWriter, r *http.Request, name string, data any) *Page {
	st := stateFrom(r.Context())
	p := &Page{Title: name, Data: data, Path: r.URL.Path, ctx: r.Context(), Project: r.PathValue("projectKey"), Flash: takeFlash(w, r)}
	if t, ok := data.(titled); ok {
		p.Title = t.PageTitle()
	}
	patterns := map[string]bool{}
	for _, rt := range routeTable() {
		patterns[rt.pattern] = true
		if rt.pattern == r.Pattern {
			p.Nav = rt.nav
		}
	}
	if p.Project != "" {
		for _, n := range navEntries() {
			if patterns["GET /projects/{projectKey}/"+n.name] {
				p.NavItems = append(p.NavItems, navItem{Label: n.label, Href: "/projects/" + url.PathEscape(p.Project) + "/" + n.name, Current: n.name == p.Nav})
			}
		}
	}
	if st.session != nil {
		p.SignedIn, p.Principal, p.CSRF = true, st.session.principal, st.session.csrf
		// The switcher lists the first projects the principal may see;
		// failing to list them leaves it empty rather than failing the page.
		projects, _, err := u.svc.Projects.ListProjects(r.Context(), catalog.ProjectQuery{Page: core.Page{Limit: 100}, Sort: []core.SortKey{{Field: "name"}}})
		if err == nil {
			p.Projects = projects
		}
		// A current project beyond the first 100 is still the one shown.
		if p.Project != "" && !slices.ContainsFunc(p.Projects, func(pr catalog.Project) bool { return pr.Key == p.Project }) {
			p.Projects = append(p.Projects, catalog.Project{Key: p.Project, Name: p.Project})
		}
	}
	return p
}

// adapt runs a route's handler: it sends a browser without a session to
// the sign-in page (non-public routes), refuses state-changing requests
// without a valid CSRF token, and shows errors.
func (u *UI) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if !rt.public && st.session == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				target := "/sign-in"
				if r.URL.Path != "/" {
					target += "?next=" + url.QueryEscape(r.URL.RequestURI())
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			u.writeError(w, r, forbidden("you are not signed in; sign in and send the form again"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !rt.public {
			// Public routes that change state (sign-in) check their own token.
			if err := checkCSRF(r, st.session.csrf); err != nil {
				u.writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(u, w, r); err != nil {
			u.writeError(w, r, err)
		}
	})
}

// maxFormBytes bounds the body of a form post.
const maxFormBytes = 1 << 20

// errorData is the error page's data.
type errorData struct {
	Status  int
	Message string
}

func (e errorData) PageTitle() string { return http.StatusText(e.Status) }

func forbidden(format string, args ...any) error {
	return core.Errorf(core.KindForbidden, format, args...)
}

func notFound(format string, args ...any) error {
	return core.Errorf(core.KindNotFound, format, args...)
}

// kindRateLimited is the UI's own kind for too many failed sign-ins.
const kindRateLimited core.ErrorKind = core.KindTransport + 50

// statusOf maps an error kind to the page's status.
func statusOf(err error) int {
	switch core.KindOf(err) {
	case core.KindInvalid:
		return http.StatusBadRequest
	case core.KindUnauthorized:
		return http.StatusUnauthorized
	case core.KindForbidden:
		return http.StatusForbidden
	case core.KindNotFound:
		return http.StatusNotFound
	case core.KindConflict:
		return http.StatusConflict
	case core.KindUnavailable:
		return http.StatusServiceUnavailable
	case kindRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// writeError shows err as the error page. Classified errors show their
// message; anything else is logged and shown as an internal error.
func (u *UI) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := "Something went wrong on the server; try again later."
	var ce *core.Error
	switch {
	case errors.Is(r.Context().Err(), context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "The server took too long to answer; try again."
	case status == http.StatusInternalServerError:
		u.log.ErrorContext(r.Context(), "web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.As(err, &ce):
		msg = ce.Message
	default:
		msg = http.StatusText(status)
	}
	u.render(w, r, status, "error", errorData{Status: status, Message: msg})
}

// flashCookie carries a message across a redirect.
const flashCookie = "metricsd_flash"

// setFlash leaves msg for the next page the browser shows.
func setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)), Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash returns the flash message and clears it.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 500 {
		return ""
	}
	return string(b)
}

// pager is the paging of a list page.
type pager struct {
	Total, Offset, Limit int
	// Page and Pages are 1-based; Pages is at least 1.
	Page, Pages int
	Prev, Next  string // URLs, "" at the ends
	// FirstPage and LastPage link to the ends of the list.
	FirstPage, LastPage string
	First, Last         int // 1-based positions of the items shown, 0 for none
}

// newPager computes the paging of a list of total items shown limit at a
// time from offset, with links that keep the rest of the query q.
func newPager(base string, q url.Values, total, offset, limit int) pager {
	p := pager{Total: total, Offset: offset, Limit: limit}
	p.Pages = max(1, int(math.Ceil(float64(total)/float64(limit))))
	p.Page = offset/limit + 1
	if total > 0 && offset < total {
		p.First, p.Last = offset+1, min(offset+limit, total)
	}
	link := func(off int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		if off > 0 {
			v.Set("offset", fmt.Sprint(off))
		} else {
			v.Del("offset")
		}
		if e := v.Encode(); e != "" {
			return base + "?" + e
		}
		return base
	}
	p.FirstPage, p.LastPage = link(0), link((p.Pages-1)*limit)
	if offset > 0 {
		p.Prev = link(max(0, offset-limit))
	}
	if offset+limit < total {
		p.Next = link(offset + limit)
	}
	return p
}
