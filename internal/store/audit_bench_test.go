package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// benchPrincipal is the member every benchmark write is made by, so that
// entries carry a principal as requests' entries do.
var benchPrincipal = core.Principal{
	MemberID: "5f0c0ffee0c0ffee0c0ffee0", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
	Role: "admin", TokenID: "5f0c0ffee0c0ffee0c0ffee1", TokenName: "ci", TokenEnding: "a1b2",
}

func openBench(b *testing.B, backend string) *store.DB {
	b.Helper()
	be := testdb.New(b, backend)
	db, err := store.Open(context.Background(), be.URL)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchDef is a realistic metric definition: its document (what the audit
// log keeps before and after a change) is about 1 KB of JSON.
func benchDef(name string, tags []string) catalog.MetricDef {
	return catalog.MetricDef{
		Name: name,
		Description: "Share of sessions that reach the order confirmation page after adding at least one item " +
			"to the cart. Counted once per user per day; excludes internal traffic and bots.",
		Category: "conversion", Tags: tags, IsNumeric: true, Unit: "USD", SuccessCriteria: "HigherThanBaseline",
		EventKey: "checkout-completed", RandomizationUnits: []string{"user"},
		UnitAggregationType: "sum", AnalysisType: "mean", DataSource: catalog.DataSource{Key: "launchdarkly"},
		Filters: &catalog.EventFilter{Type: "contextAttribute", Attribute: "country", Op: "in",
			Values: []any{"US", "CA", "GB", "DE", "FR"}, ContextKind: "user"},
	}
}

func benchMetric(p *catalog.Project, key string) *catalog.Metric {
	now := time.Now().UTC()
	return &catalog.Metric{ID: core.NewObjectID(), ProjectID: p.ID, ProjectKey: p.Key, Key: key, Kind: catalog.KindCustom,
		Version: 1, VersionID: uuid.NewString(), CreatedAt: now, UpdatedAt: now,
		Def: benchDef("Checkout "+key, []string{"revenue", "web", "checkout"})}
}

// metricChange builds the change the catalog records for a metric write
// (catalog.metricChange): target, parent, documents, delta and actions.
func metricChange(p *catalog.Project, before, after *catalog.Metric, delta []patch.Op, comment string, actions ...action.Action) *audit.Change {
	c := &audit.Change{
		Parent:  &audit.Parent{Resource: resource.Project(p.Key).String(), Name: p.Name},
		Actions: actions, Comment: comment,
	}
	target := func(m *catalog.Metric) audit.Target {
		return audit.Target{Kind: "metric", Spec: resource.Metric(p.Key, m.Key, m.Def.Tags), Name: m.Def.Name}
	}
	if before != nil {
		c.Target, c.Before = target(before), catalog.MetricDocument(before)
	}
	if after != nil {
		c.Target, c.After = target(after), catalog.MetricDocument(after)
	}
	if delta != nil {
		c.Delta, _ = json.Marshal(delta)
	}
	return c
}

// writeAuditRuns counts the runs of BenchmarkWriteAudit per backend, so
// that the order of the two variants alternates from one -count to the
// next and neither always runs on the larger database.
var writeAuditRuns = map[string]int{}

// BenchmarkWriteAudit measures what recording the audit entry adds to a
// write: each operation runs through Transact once returning no change and
// once returning the change the catalog would, in the same run. The two
// variants do the same store work; with-audit also renders the documents
// and inserts the entry.
func BenchmarkWriteAudit(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			db := openBench(b, backend)
			ctx := core.WithPrincipal(context.Background(), benchPrincipal)
			p := &catalog.Project{ID: core.NewObjectID(), Key: "bench", Name: "Bench", Tags: []string{}, CreatedAt: time.Now().UTC()}
			if err := db.CreateProject(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
			// Patches cycle over a fixed set of metrics shared by both variants.
			const patched = 100
			for i := range patched {
				if err := db.CreateMetric(ctx, benchMetric(p, fmt.Sprintf("patched-%d", i))); err != nil {
					b.Fatal(err)
				}
			}
			seq := 0
			create := func(audited bool) error {
				seq++
				key := fmt.Sprintf("created-%d", seq)
				return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) {
					p, err := tx.Project(ctx, "bench")
					if err != nil {
						return nil, err
					}
					m := benchMetric(p, key)
					if err := tx.CreateMetric(ctx, m); err != nil {
						return nil, err
					}
					out, err := tx.Metric(ctx, p.ID, key, m.VersionID)
					if err != nil || !audited {
						return nil, err
					}
					return metricChange(p, nil, out, nil, "", action.CreateMetric), nil
				})
			}
			patch := func(audited bool) error {
				seq++
				key := fmt.Sprintf("patched-%d", seq%patched)
				desc := fmt.Sprintf("Share of sessions that reach the order confirmation page (revision %d).", seq)
				ops := []patch.Op{{Op: "replace", Path: "/description", Value: json.RawMessage(fmt.Sprintf("%q", desc))}}
				return db.Transact(ctx, func(tx catalog.Tx) (*audit.Change, error) {
					p, err := tx.Project(ctx, "bench")
					if err != nil {
						return nil, err
					}
					cur, err := tx.MetricForUpdate(ctx, p.ID, key)
					if err != nil {
						return nil, err
					}
					next := *cur
					next.Def.Description = desc
					next.Version = cur.Version + 1
					next.VersionID = uuid.NewString()
					next.UpdatedAt = time.Now().UTC()
					next.Comment = "clearer description"
					if err := tx.UpdateMetric(ctx, &next, cur.Version); err != nil {
						return nil, err
					}
					out, err := tx.Metric(ctx, p.ID, key, next.VersionID)
					if err != nil || !audited {
						return nil, err
					}
					return metricChange(p, cur, out, ops, next.Comment, action.UpdateDescription), nil
				})
			}
			variants := []string{"without-audit", "with-audit"}
			if writeAuditRuns[backend]%2 == 1 {
				variants = []string{"with-audit", "without-audit"}
			}
			writeAuditRuns[backend]++
			for _, op := range []struct {
				name string
				fn   func(audited bool) error
			}{{"create-metric", create}, {"patch-metric", patch}} {
				for _, v := range variants {
					b.Run(op.name+"/"+v, func(b *testing.B) {
						for range b.N {
							if err := op.fn(v == "with-audit"); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
				// paired alternates the variants write by write (ABBA), so
				// that load from elsewhere on the machine hits both alike,
				// and reports each variant's median write and their ratio;
				// medians, as stalls of a loaded machine skew means.
				b.Run(op.name+"/paired", func(b *testing.B) {
					var took [2][]time.Duration
					for i := range b.N {
						v := 0
						if i%4 == 1 || i%4 == 2 {
							v = 1
						}
						start := time.Now()
						if err := op.fn(v == 1); err != nil {
							b.Fatal(err)
						}
						took[v] = append(took[v], time.Since(start))
					}
					if len(took[0]) == 0 || len(took[1]) == 0 {
						return
					}
					without, with := median(took[0]), median(took[1])
					b.ReportMetric(without, "without-p50-ns")
					b.ReportMetric(with, "with-p50-ns")
					b.ReportMetric(with/without, "with/without")
				})
			}
		})
	}
}

func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2])
}

// seedAuditLog fills db's audit log with n entries made over n minutes,
// oldest first: half of them of metrics, the rest of metric groups, teams,
// members and projects, spread over projects p0..p19. A fifth of the
// metrics are keyed check*, and three fifths carry the tag revenue.
func seedAuditLog(b testing.TB, db *store.DB, n int) {
	b.Helper()
	ctx := core.WithPrincipal(context.Background(), benchPrincipal)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	prefixes := []string{"checkout", "signup", "latency", "search", "retention"}
	tagSets := [][]string{{"revenue", "web"}, {"revenue"}, {"mobile", "growth"}, {"growth", "revenue"}, {"api"}}
	proto := benchMetric(&catalog.Project{ID: "p", Key: "p"}, "proto")
	before := catalog.MetricDocument(proto)
	proto.Version++
	proto.Def.Description += " Revised."
	after := catalog.MetricDocument(proto)
	small := json.RawMessage(`{"key":"k","name":"Name","description":"A resource that is not a metric.","tags":["web"],"_version":2}`)
	delta := json.RawMessage(`[{"op":"replace","path":"/description","value":"Revised."}]`)
	entries := make([]audit.Entry, 0, n)
	for i := range n {
		proj := fmt.Sprintf("p%d", r.IntN(20))
		c := audit.Change{Parent: &audit.Parent{Resource: "proj/" + proj, Name: "Project " + proj}}
		switch k := r.IntN(10); {
		case k < 5:
			key := fmt.Sprintf("%s-%d", prefixes[r.IntN(len(prefixes))], i)
			c.Target = audit.Target{Kind: "metric", Spec: resource.Metric(proj, key, tagSets[r.IntN(len(tagSets))]), Name: key}
			c.Before, c.After, c.Delta, c.Actions = before, after, delta, []action.Action{action.UpdateDescription}
		case k < 7:
			key := fmt.Sprintf("group-%d", i)
			c.Target = audit.Target{Kind: "metric-group", Spec: resource.MetricGroup(proj, key, tagSets[r.IntN(len(tagSets))]), Name: key}
			c.After, c.Actions = small, []action.Action{action.CreateMetricGroup}
		case k < 8:
			c.Target = audit.Target{Kind: "team", Spec: resource.Team(fmt.Sprintf("team-%d", i)), Name: "Team"}
			c.Parent, c.After, c.Actions = nil, small, []action.Action{action.CreateTeam}
		case k < 9:
			c.Target = audit.Target{Kind: "member", Spec: resource.Member(core.NewObjectID()), Name: "someone@example.com"}
			c.Parent, c.After, c.Actions = nil, small, []action.Action{action.CreateMember}
		default:
			c.Target = audit.Target{Kind: "project", Spec: resource.Project(proj), Name: "Project " + proj}
			c.Parent, c.After, c.Actions = nil, small, []action.Action{action.CreateProject}
		}
		entries = append(entries, audit.NewEntry(ctx, c, start.Add(time.Duration(i)*time.Minute)))
	}
	if err := db.SeedAudit(ctx, entries); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAuditPage reads one page of ten entries from an audit log of 1k
// and of 100k entries, for a spec with a concrete project, one with globs
// and one with a tag selector. The two sizes of each query run one after
// the other in the same run.
func BenchmarkAuditPage(b *testing.B) {
	queries := []struct{ name, spec string }{
		{"project", "proj/p3:metric/*"},
		{"glob", "proj/*:metric/check*"},
		{"tag", "proj/p3:metric/*;revenue"},
	}
	sizes := []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"100k", 100_000}}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dbs := make([]*store.DB, len(sizes))
			for i, s := range sizes {
				dbs[i] = openBench(b, backend)
				seedAuditLog(b, dbs[i], s.n)
			}
			ctx := context.Background()
			for _, q := range queries {
				spec, err := resource.Parse(q.spec)
				if err != nil {
					b.Fatal(err)
				}
				for i, s := range sizes {
					b.Run(q.name+"/"+s.name, func(b *testing.B) {
						for range b.N {
							page, _, err := dbs[i].AuditEntries(ctx, audit.Query{Spec: &spec, Limit: 10})
							if err != nil {
								b.Fatal(err)
							}
							if len(page) != 10 {
								b.Fatalf("%s over %s: %d entries, want 10", q.spec, s.name, len(page))
							}
						}
					})
				}
			}
		})
	}
}
