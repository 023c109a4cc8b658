package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

func bootstrapSeed(suffix string, created time.Time) *catalog.Seed {
	owner := account.Member{ID: "owner-" + suffix, Email: "owner-" + suffix + "@metricsd.local", FirstName: "Metricsd", LastName: "Owner", Role: "owner", CreatedAt: created}
	p, envs := fixtureProject("proj-"+suffix, "default-"+suffix, created)
	return &catalog.Seed{
		Owner:        owner,
		Token:        account.Token{ID: "tok-" + suffix, MemberID: owner.ID, Name: "bootstrap admin token", Hash: catalog.HashToken("secret-" + suffix), CreatedAt: created},
		Project:      p,
		Environments: envs,
	}
}

func TestBootstrap(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)

		if _, err := db.Owner(ctx); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("Owner on empty database: err = %v, want ErrNotFound", err)
		}

		seed := bootstrapSeed("a", at(0))
		created, err := db.Bootstrap(ctx, seed)
		if err != nil || !created {
			t.Fatalf("first Bootstrap = %v, %v; want true, nil", created, err)
		}

		checkSeed := func(t *testing.T) {
			t.Helper()
			tok, m, err := tokenByHash(ctx, db, seed.Token.Hash)
			if err != nil {
				t.Fatalf("TokenByHash: %v", err)
			}
			if d := diff(&seed.Token, tok); d != "" {
				t.Errorf("token (-want +got):\n%s", d)
			}
			if d := diff(&seed.Owner, m); d != "" {
				t.Errorf("token member (-want +got):\n%s", d)
			}
			owner, err := db.Owner(ctx)
			if err != nil {
				t.Fatalf("Owner: %v", err)
			}
			if d := diff(&seed.Owner, owner); d != "" {
				t.Errorf("Owner (-want +got):\n%s", d)
			}
			p, err := db.GetProject(ctx, seed.Project.Key)
			if err != nil {
				t.Fatalf("GetProject: %v", err)
			}
			if d := diff(&seed.Project, p); d != "" {
				t.Errorf("project (-want +got):\n%s", d)
			}
			envs, err := db.ListEnvironments(ctx, seed.Project.ID)
			if err != nil {
				t.Fatalf("ListEnvironments: %v", err)
			}
			if d := diff(seed.Environments, envs); d != "" {
				t.Errorf("environments (-want +got):\n%s", d)
			}
			projects, total, err := db.ListProjects(ctx, catalog.ProjectQuery{Page: core.Page{Limit: 10}})
			if err != nil {
				t.Fatalf("ListProjects: %v", err)
			}
			if total != 1 || len(projects) != 1 {
				t.Errorf("ListProjects = %d projects, total %d; want 1, 1", len(projects), total)
			}
		}
		checkSeed(t)

		other := bootstrapSeed("b", at(-time.Hour))
		created, err = db.Bootstrap(ctx, other)
		if err != nil || created {
			t.Fatalf("second Bootstrap = %v, %v; want false, nil", created, err)
		}
		checkSeed(t)
		if _, _, err := tokenByHash(ctx, db, other.Token.Hash); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("token of the second seed: err = %v, want ErrNotFound", err)
		}
		if _, err := db.GetProject(ctx, other.Project.Key); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("project of the second seed: err = %v, want ErrNotFound", err)
		}
		if _, err := db.GetMember(ctx, other.Owner.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("owner of the second seed: err = %v, want ErrNotFound", err)
		}

		// EnsureToken inserts once; a second token with the same hash is a no-op.
		admin := account.Token{ID: "tok-admin", MemberID: seed.Owner.ID, Name: "METRICSD_ADMIN_TOKEN", Hash: catalog.HashToken("admin"), CreatedAt: at(time.Second)}
		if err := db.EnsureToken(ctx, &admin); err != nil {
			t.Fatalf("first EnsureToken: %v", err)
		}
		again := admin
		again.ID, again.Name, again.CreatedAt = "tok-admin-2", "again", at(2*time.Second)
		if err := db.EnsureToken(ctx, &again); err != nil {
			t.Fatalf("second EnsureToken: %v", err)
		}
		tok, m, err := tokenByHash(ctx, db, admin.Hash)
		if err != nil {
			t.Fatalf("TokenByHash(admin): %v", err)
		}
		if d := diff(&admin, tok); d != "" {
			t.Errorf("admin token (-want +got):\n%s", d)
		}
		if d := diff(&seed.Owner, m); d != "" {
			t.Errorf("admin token member (-want +got):\n%s", d)
		}
		raw := openRaw(t, b.URL)
		if n := raw.count("SELECT COUNT(*) FROM tokens"); n != 2 {
			t.Errorf("tokens = %d, want 2 (seed + admin)", n)
		}
		if _, _, err := tokenByHash(ctx, db, catalog.HashToken("unknown")); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("TokenByHash(unknown): err = %v, want ErrNotFound", err)
		}
		wantErr(t, "CreateToken with a known hash", db.CreateToken(ctx, &again), core.ErrDuplicate)
		dupEmail := account.Member{ID: "m-dup", Email: seed.Owner.Email, Role: "writer", CreatedAt: at(0)}
		wantErr(t, "CreateMember with a known email", db.CreateMember(ctx, &dupEmail), core.ErrDuplicate)
		orphan := account.Token{ID: "tok-orphan", MemberID: "nobody", Name: "x", Hash: []byte("x"), CreatedAt: at(0)}
		wantErr(t, "CreateToken for an unknown member", db.CreateToken(ctx, &orphan), core.ErrReference)

		// Owner is the earliest member with the owner role.
		mustMember(t, db, "admin-early", "admin@example.com", "admin", at(-2*time.Hour))
		mustMember(t, db, "owner-late", "late@example.com", "owner", at(time.Hour))
		owner, err := db.Owner(ctx)
		if err != nil {
			t.Fatalf("Owner: %v", err)
		}
		if owner.ID != seed.Owner.ID {
			t.Errorf("Owner().ID = %q, want %q", owner.ID, seed.Owner.ID)
		}
		early := mustMember(t, db, "owner-early", "early@example.com", "owner", at(-time.Hour))
		owner, err = db.Owner(ctx)
		if err != nil {
			t.Fatalf("Owner: %v", err)
		}
		if d := diff(&early, owner); d != "" {
			t.Errorf("Owner after adding an earlier owner (-want +got):\n%s", d)
		}
	})
}

func TestBootstrapConcurrentReplicas(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		const n = 4
		results := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				db, err := store.Open(context.Background(), b.URL)
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				results[i], errs[i] = db.Bootstrap(context.Background(), bootstrapSeed(strconv.Itoa(i), at(0)))
			})
		}
		wg.Wait()
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("replica %d: %v", i, errs[i])
			}
			if results[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Errorf("%d replicas bootstrapped, want exactly 1", winners)
		}
		raw := openRaw(t, b.URL)
		for _, table := range []string{"members", "tokens", "projects"} {
			if got := raw.count("SELECT COUNT(*) FROM " + table); got != 1 {
				t.Errorf("%s rows = %d, want 1", table, got)
			}
		}
	})
}

// tokenByHash returns the token and member of a credential, the token's
// update time cleared (the store fills it from the creation time).
func tokenByHash(ctx context.Context, db *store.DB, hash []byte) (*account.Token, *account.Member, error) {
	c, err := db.TokenByHash(ctx, hash, time.Now())
	if err != nil {
		return nil, nil, err
	}
	c.Token.UpdatedAt = time.Time{}
	return &c.Token, &c.Member, nil
}
