package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

func newMember(id, email, role string, created time.Time, teams ...string) account.NewMember {
	return account.NewMember{
		Member:   account.Member{ID: id, Email: email, FirstName: "F" + id, LastName: "L" + id, Role: role, CreatedAt: created},
		TeamKeys: teams,
	}
}

func mustTeam(t *testing.T, db *store.DB, key string, created time.Time, members, maintainers []string) *account.Team {
	t.Helper()
	tm := &account.Team{Key: key, Name: "Team " + key, Description: "about " + key, Version: 1, CreatedAt: created, UpdatedAt: created,
		MemberIDs: members, MaintainerIDs: maintainers}
	if err := db.CreateTeam(t.Context(), tm); err != nil {
		t.Fatalf("CreateTeam(%s): %v", key, err)
	}
	return tm
}

func mustGetTeam(t *testing.T, db *store.DB, key string) *account.Team {
	t.Helper()
	tm, err := db.GetTeam(t.Context(), key)
	if err != nil {
		t.Fatalf("GetTeam(%s): %v", key, err)
	}
	return tm
}

func teamRefs(keys ...string) []account.TeamRef {
	out := []account.TeamRef{}
	for _, k := range keys {
		out = append(out, account.TeamRef{Key: k, Name: "Team " + k})
	}
	return out
}

func memberIDs(ms []account.MemberDetail) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestCreateMembers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		mustTeam(t, db, "core", at(0), nil, nil)
		mustTeam(t, db, "web", at(0), nil, nil)

		batch := []account.NewMember{
			newMember("m1", "Ann@Example.com", "reader", at(time.Second), "core", "web"),
			newMember("m2", "bob@example.com", "admin", at(time.Second+time.Millisecond)),
		}
		if err := db.CreateMembers(ctx, batch); err != nil {
			t.Fatalf("CreateMembers: %v", err)
		}
		got, err := db.GetMemberDetail(ctx, "m1")
		if err != nil {
			t.Fatalf("GetMemberDetail: %v", err)
		}
		want := &account.MemberDetail{Member: batch[0].Member, Teams: teamRefs("core", "web"), MaintainedTeams: []account.TeamRef{}}
		if d := diff(want, got); d != "" {
			t.Errorf("member detail (-want +got):\n%s", d)
		}
		if _, err := db.GetMemberDetail(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetMemberDetail(nope): %v, want ErrNotFound", err)
		}

		countRows := func() [2]int {
			return [2]int{raw.count("SELECT COUNT(*) FROM members"), raw.count("SELECT COUNT(*) FROM team_members")}
		}
		before := countRows()
		t.Run("email taken ignoring case", func(t *testing.T) {
			err := db.CreateMembers(ctx, []account.NewMember{
				newMember("m3", "carl@example.com", "reader", at(2*time.Second), "core"),
				newMember("m4", "ann@example.COM", "reader", at(2*time.Second)),
			})
			var row *account.RowError
			if !errors.As(err, &row) || row.Index != 1 || !errors.Is(err, core.ErrDuplicate) {
				t.Errorf("err = %v, want a RowError for index 1 wrapping ErrDuplicate", err)
			}
		})
		t.Run("unknown team", func(t *testing.T) {
			err := db.CreateMembers(ctx, []account.NewMember{
				newMember("m5", "dan@example.com", "reader", at(2*time.Second), "core", "nope", "gone"),
				newMember("m6", "eve@example.com", "reader", at(2*time.Second), "nope"),
			})
			var missing *core.MissingRefsError
			if !errors.As(err, &missing) || !errors.Is(err, core.ErrReference) {
				t.Fatalf("err = %v, want a MissingRefsError", err)
			}
			if d := cmp.Diff(&core.MissingRefsError{What: "team", Keys: []string{"nope", "gone"}}, missing); d != "" {
				t.Errorf("missing (-want +got):\n%s", d)
			}
		})
		t.Run("duplicate ID", func(t *testing.T) {
			err := db.CreateMembers(ctx, []account.NewMember{newMember("m1", "fay@example.com", "reader", at(0))})
			wantErr(t, "duplicate ID", err, core.ErrDuplicate)
		})
		if after := countRows(); after != before {
			t.Errorf("rows (members, team_members) = %v after failed creates, want %v", after, before)
		}
	})
}

func TestCreateMembersConcurrentSameEmail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		db := mustOpen(t, b.URL)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				id := "racer-" + string(rune('a'+i))
				errs[i] = db.CreateMembers(t.Context(), []account.NewMember{newMember(id, "Same@example.com", "reader", at(0))})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, core.ErrDuplicate):
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d racing creates succeeded, want exactly 1", ok, n)
		}
	})
}

func TestListMembers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		mustTeam(t, db, "core", at(0), nil, nil)
		mustTeam(t, db, "Web", at(0), nil, nil)
		owner := mustMember(t, db, "o", "owner@example.com", "owner", at(0))
		members := []account.NewMember{
			newMember("a", "zed@example.com", "admin", at(1*time.Second), "core"),
			newMember("b", "amy@example.com", "reader", at(2*time.Second), "Web"),
			newMember("c", "CAT@example.com", "writer", at(3*time.Second)),
			newMember("d", "dee@example.com", "no_access", at(4*time.Second), "core", "Web"),
		}
		members[1].FirstName, members[1].LastName = "", ""   // displayed as its email
		members[2].FirstName, members[2].LastName = "Bo", "" // displayed as "Bo"
		if err := db.CreateMembers(ctx, members); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateTeam(ctx, &account.Team{Key: "core", Name: "Team core", Version: 2, UpdatedAt: at(5 * time.Second),
			MemberIDs: []string{"a", "d"}, MaintainerIDs: []string{"b"}}, 1); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		page := core.Page{Limit: 10}
		tests := []struct {
			name string
			q    account.MemberQuery
			want []string
		}{
			{"all in creation order", account.MemberQuery{Page: page}, []string{"o", "a", "b", "c", "d"}},
			{"query matches email", account.MemberQuery{Page: page, Query: "cat@"}, []string{"c"}},
			{"query matches full name ignoring case", account.MemberQuery{Page: page, Query: "fd ld"}, []string{"d"}},
			{"query with LIKE wildcards is literal", account.MemberQuery{Page: page, Query: "%"}, []string{}},
			{"admins include the owner", account.MemberQuery{Page: page, Roles: []string{"admin"}}, []string{"o", "a"}},
			{"roles", account.MemberQuery{Page: page, Roles: []string{"writer", "no_access", "custom"}}, []string{"c", "d"}},
			{"ids", account.MemberQuery{Page: page, IDs: []string{"d", "b", "zz"}}, []string{"b", "d"}},
			{"emails ignoring case", account.MemberQuery{Page: page, Emails: []string{"cat@example.com", "AMY@example.com"}}, []string{"b", "c"}},
			{"team ignoring case", account.MemberQuery{Page: page, TeamKey: "web"}, []string{"b", "d"}},
			{"no team", account.MemberQuery{Page: page, NoTeam: &yes}, []string{"o", "c"}},
			{"some team", account.MemberQuery{Page: page, NoTeam: &no}, []string{"a", "b", "d"}},
			{"by display name", account.MemberQuery{Page: page, Sort: []core.SortKey{{Field: "displayName"}}}, []string{"b", "c", "a", "d", "o"}},
			{"by display name descending", account.MemberQuery{Page: page, Sort: []core.SortKey{{Field: "displayName", Desc: true}}}, []string{"o", "d", "a", "c", "b"}},
			{"combined", account.MemberQuery{Page: page, TeamKey: "core", Roles: []string{"admin"}}, []string{"a"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := db.ListMembers(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.want, memberIDs(got)); d != "" {
					t.Errorf("ids (-want +got):\n%s", d)
				}
				if total != len(tt.want) {
					t.Errorf("total %d, want %d", total, len(tt.want))
				}
			})
		}
		t.Run("paging", func(t *testing.T) {
			got, total, err := db.ListMembers(ctx, account.MemberQuery{Page: core.Page{Limit: 2, Offset: 2}})
			if err != nil || total != 5 {
				t.Fatalf("total %d, err %v", total, err)
			}
			if d := cmp.Diff([]string{"b", "c"}, memberIDs(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			got, total, err = db.ListMembers(ctx, account.MemberQuery{Page: core.Page{Limit: 2, Offset: 9}})
			if err != nil || total != 5 || got == nil || len(got) != 0 {
				t.Errorf("past the end: %v, %d, %v; want an empty page and total 5", got, total, err)
			}
		})
		t.Run("details", func(t *testing.T) {
			got, _, err := db.ListMembers(ctx, account.MemberQuery{Page: page})
			if err != nil {
				t.Fatal(err)
			}
			want := []account.MemberDetail{
				{Member: owner, Teams: teamRefs(), MaintainedTeams: teamRefs()},
				{Member: members[0].Member, Teams: teamRefs("core"), MaintainedTeams: teamRefs()},
				{Member: members[1].Member, Teams: teamRefs("Web"), MaintainedTeams: teamRefs("core")},
				{Member: members[2].Member, Teams: teamRefs(), MaintainedTeams: teamRefs()},
				{Member: members[3].Member, Teams: teamRefs("Web", "core"), MaintainedTeams: teamRefs()},
			}
			if d := diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	})
}

// insertGroup adds a metric group maintained by a member or a team.
func insertGroup(raw *rawSQL, id, projectID, key, maintainerID, teamKey string) {
	var member, team any
	if maintainerID != "" {
		member = maintainerID
	}
	if teamKey != "" {
		team = teamKey
	}
	raw.exec(`INSERT INTO metric_groups (id, project_id, key, key_lower, name, name_lower, kind, maintainer_id, maintainer_team_key, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'standard', ?, ?, 1, 0, 0)`, id, projectID, key, key, key, key, member, team)
}

func TestDeleteMember(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		owner := mustMember(t, db, "owner", "owner@example.com", "owner", at(0))
		busy := mustMember(t, db, "busy", "busy@example.com", "writer", at(time.Second))
		idle := mustMember(t, db, "idle", "idle@example.com", "reader", at(2*time.Second))
		p, _ := mustProject(t, db, "p1", "alpha", at(0))
		q, _ := mustProject(t, db, "p2", "beta", at(0))
		for _, m := range []*catalog.Metric{simpleMetric(p, "x1", "signup", at(0)), simpleMetric(p, "x2", "checkout", at(0)), simpleMetric(q, "x3", "latency", at(0))} {
			m.Def.MaintainerID = busy.ID
			mustMetric(t, db, m)
		}
		insertGroup(raw, "g1", p.ID, "funnel", busy.ID, "")
		mustTeam(t, db, "core", at(0), []string{busy.ID, idle.ID}, []string{idle.ID})
		tok := account.Token{ID: "tok-idle", MemberID: idle.ID, Name: "t", Hash: catalog.HashToken("idle-secret"), CreatedAt: at(0)}
		if err := db.CreateToken(ctx, &tok); err != nil {
			t.Fatal(err)
		}

		err := db.DeleteMember(ctx, busy.ID)
		var maint *account.MaintainsError
		if !errors.As(err, &maint) || !errors.Is(err, core.ErrInUse) {
			t.Fatalf("delete a maintainer: %v, want a MaintainsError", err)
		}
		wantRefs := []account.MaintainedRef{
			{Kind: "metric", ProjectKey: "alpha", Key: "checkout"}, {Kind: "metric", ProjectKey: "alpha", Key: "signup"},
			{Kind: "metric", ProjectKey: "beta", Key: "latency"}, {Kind: "metric group", ProjectKey: "alpha", Key: "funnel"},
		}
		if d := cmp.Diff(wantRefs, maint.Refs); d != "" {
			t.Errorf("refs (-want +got):\n%s", d)
		}
		if _, err := db.GetMember(ctx, busy.ID); err != nil {
			t.Errorf("the refused member is gone: %v", err)
		}

		wantErr(t, "delete the owner", db.DeleteMember(ctx, owner.ID), core.ErrNotFound)
		if _, err := db.GetMember(ctx, owner.ID); err != nil {
			t.Errorf("the owner is gone: %v", err)
		}
		wantErr(t, "delete unknown", db.DeleteMember(ctx, "nope"), core.ErrNotFound)

		if err := db.DeleteMember(ctx, idle.ID); err != nil {
			t.Fatalf("delete idle member: %v", err)
		}
		wantErr(t, "deleted member", func() error { _, err := db.GetMember(ctx, idle.ID); return err }(), core.ErrNotFound)
		if _, err := db.TokenByHash(ctx, tok.Hash, time.Now()); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("token of a deleted member: %v, want ErrNotFound", err)
		}
		team := mustGetTeam(t, db, "core")
		if d := cmp.Diff([]string{busy.ID}, team.MemberIDs); d != "" || team.MemberCount != 1 || len(team.Maintainers) != 0 {
			t.Errorf("team after deleting a member: members %v count %d maintainers %v", team.MemberIDs, team.MemberCount, team.Maintainers)
		}

		// Once its metrics and group have another maintainer, the member goes.
		raw.exec(`UPDATE metrics SET maintainer_id = ? WHERE maintainer_id = ?`, owner.ID, busy.ID)
		raw.exec(`UPDATE metric_groups SET maintainer_id = ? WHERE maintainer_id = ?`, owner.ID, busy.ID)
		if err := db.DeleteMember(ctx, busy.ID); err != nil {
			t.Fatalf("delete a former maintainer: %v", err)
		}
	})
}

func TestTeams(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := t.Context()
		db := mustOpen(t, b.URL)
		raw := openRaw(t, b.URL)
		ann := mustMember(t, db, "ann", "ann@example.com", "reader", at(0))
		bob := mustMember(t, db, "bob", "bob@example.com", "writer", at(0))
		cat := mustMember(t, db, "cat", "cat@example.com", "admin", at(0))

		created := mustTeam(t, db, "core", at(time.Second), []string{"ann", "bob"}, []string{"cat", "ann"})
		got := mustGetTeam(t, db, "core")
		want := &account.Team{Key: "core", Name: "Team core", Description: "about core", Version: 1, CreatedAt: created.CreatedAt, UpdatedAt: created.UpdatedAt,
			MemberIDs: []string{"ann", "bob"}, MaintainerIDs: []string{"ann", "cat"}, MemberCount: 2, Maintainers: []account.Member{ann, cat}}
		if d := diff(want, got); d != "" {
			t.Errorf("GetTeam (-want +got):\n%s", d)
		}
		if _, err := db.GetTeam(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetTeam(nope): %v", err)
		}

		rows := func() [3]int {
			return [3]int{raw.count("SELECT COUNT(*) FROM teams"), raw.count("SELECT COUNT(*) FROM team_members"), raw.count("SELECT COUNT(*) FROM team_maintainers")}
		}
		before := rows()
		wantErr(t, "duplicate key", db.CreateTeam(ctx, &account.Team{Key: "core", Name: "Other", Version: 1, CreatedAt: at(0), UpdatedAt: at(0)}), core.ErrDuplicate)
		err := db.CreateTeam(ctx, &account.Team{Key: "web", Name: "Web", Version: 1, CreatedAt: at(0), UpdatedAt: at(0),
			MemberIDs: []string{"ann", "ghost"}, MaintainerIDs: []string{"phantom", "ghost"}})
		var missing *core.MissingRefsError
		if !errors.As(err, &missing) {
			t.Fatalf("unknown members: %v, want a MissingRefsError", err)
		}
		if d := cmp.Diff(&core.MissingRefsError{What: "member", Keys: []string{"ghost", "phantom"}}, missing); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		if after := rows(); after != before {
			t.Errorf("rows (teams, members, maintainers) = %v after failed creates, want %v", after, before)
		}

		t.Run("update", func(t *testing.T) {
			joined := raw.count(`SELECT created_at FROM team_members WHERE team_key = 'core' AND member_id = 'bob'`)
			next := &account.Team{Key: "core", Name: "Core", Description: "", Version: 2, UpdatedAt: at(time.Hour),
				MemberIDs: []string{"bob", "cat"}, MaintainerIDs: []string{"bob"}}
			wantErr(t, "stale version", db.UpdateTeam(ctx, next, 7), core.ErrStale)
			wantErr(t, "unknown team", db.UpdateTeam(ctx, &account.Team{Key: "nope", Name: "x", Version: 2}, 1), core.ErrNotFound)
			bad := *next
			bad.MemberIDs = []string{"bob", "ghost"}
			if err := db.UpdateTeam(ctx, &bad, 1); !errors.As(err, &missing) || len(missing.Keys) != 1 || missing.Keys[0] != "ghost" {
				t.Errorf("unknown member: %v", err)
			}
			if d := diff(want, mustGetTeam(t, db, "core")); d != "" {
				t.Errorf("team changed by failed updates (-want +got):\n%s", d)
			}
			if err := db.UpdateTeam(ctx, next, 1); err != nil {
				t.Fatalf("UpdateTeam: %v", err)
			}
			got := mustGetTeam(t, db, "core")
			want := &account.Team{Key: "core", Name: "Core", Description: "", Version: 2, CreatedAt: created.CreatedAt, UpdatedAt: at(time.Hour),
				MemberIDs: []string{"bob", "cat"}, MaintainerIDs: []string{"bob"}, MemberCount: 2, Maintainers: []account.Member{bob}}
			if d := diff(want, got); d != "" {
				t.Errorf("after update (-want +got):\n%s", d)
			}
			if again := raw.count(`SELECT created_at FROM team_members WHERE team_key = 'core' AND member_id = 'bob'`); again != joined {
				t.Errorf("a member who stayed was re-added: joined %d, now %d", joined, again)
			}
			wantErr(t, "replayed update", db.UpdateTeam(ctx, next, 1), core.ErrStale)
		})

		t.Run("racing updates", func(t *testing.T) {
			cur := mustGetTeam(t, db, "core")
			const n = 6
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					next := *cur
					next.Version = cur.Version + 1
					next.Name = "racer " + string(rune('a'+i))
					errs[i] = db.UpdateTeam(t.Context(), &next, cur.Version)
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, core.ErrStale):
					t.Errorf("unexpected error %v", err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d racing updates succeeded, want exactly 1", ok, n)
			}
		})

		t.Run("list", func(t *testing.T) {
			mustTeam(t, db, "web-team", at(2*time.Second), nil, []string{"ann"})
			mustTeam(t, db, "ops", at(3*time.Second), []string{"ann"}, nil)
			yes, no := true, false
			keys := func(ts []account.Team) []string {
				out := []string{}
				for _, t := range ts {
					out = append(out, t.Key)
				}
				return out
			}
			page := core.Page{Limit: 10}
			for _, tt := range []struct {
				name string
				q    account.TeamQuery
				want []string
			}{
				{"all", account.TeamQuery{Page: page}, []string{"core", "web-team", "ops"}},
				{"query on key", account.TeamQuery{Page: page, Query: "WEB"}, []string{"web-team"}},
				{"query on name", account.TeamQuery{Page: page, Query: "team o"}, []string{"ops"}},
				{"no members", account.TeamQuery{Page: page, NoMembers: &yes}, []string{"web-team"}},
				{"some members", account.TeamQuery{Page: page, NoMembers: &no}, []string{"core", "ops"}},
				{"paged", account.TeamQuery{Page: core.Page{Limit: 1, Offset: 1}}, []string{"web-team"}},
			} {
				got, total, err := db.ListTeams(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.want, keys(got)); d != "" {
					t.Errorf("%s (-want +got):\n%s", tt.name, d)
				}
				if wantTotal := len(tt.want); tt.name == "paged" && total != 3 || tt.name != "paged" && total != wantTotal {
					t.Errorf("%s: total %d", tt.name, total)
				}
			}
			got, _, err := db.ListTeams(ctx, account.TeamQuery{Page: page})
			if err != nil {
				t.Fatal(err)
			}
			if got[1].MemberCount != 0 || len(got[1].Maintainers) != 1 || got[1].Maintainers[0].ID != "ann" || got[2].MemberCount != 1 || got[1].MemberIDs != nil {
				t.Errorf("list details: %+v", got)
			}
		})

		t.Run("delete", func(t *testing.T) {
			p, _ := mustProject(t, db, "p1", "alpha", at(0))
			m := simpleMetric(p, "x1", "signup", at(0))
			mustMetric(t, db, m)
			raw.exec(`UPDATE metrics SET maintainer_team_key = 'ops' WHERE id = ?`, m.ID)
			insertGroup(raw, "g1", p.ID, "funnel", "", "ops")
			err := db.DeleteTeam(ctx, "ops")
			var maint *account.MaintainsError
			if !errors.As(err, &maint) {
				t.Fatalf("delete a maintaining team: %v", err)
			}
			if d := cmp.Diff([]account.MaintainedRef{{Kind: "metric", ProjectKey: "alpha", Key: "signup"}, {Kind: "metric group", ProjectKey: "alpha", Key: "funnel"}}, maint.Refs); d != "" {
				t.Errorf("refs (-want +got):\n%s", d)
			}
			if tm := mustGetTeam(t, db, "ops"); tm.MemberCount != 1 {
				t.Errorf("refused delete removed memberships: %+v", tm)
			}
			wantErr(t, "unknown team", db.DeleteTeam(ctx, "nope"), core.ErrNotFound)
			if err := db.DeleteTeam(ctx, "core"); err != nil {
				t.Fatalf("DeleteTeam(core): %v", err)
			}
			wantErr(t, "deleted team", func() error { _, err := db.GetTeam(ctx, "core"); return err }(), core.ErrNotFound)
			if n := raw.count(`SELECT COUNT(*) FROM team_members WHERE team_key = 'core'`) + raw.count(`SELECT COUNT(*) FROM team_maintainers WHERE team_key = 'core'`); n != 0 {
				t.Errorf("%d membership rows of the deleted team remain", n)
			}
			if _, err := db.GetMember(ctx, "bob"); err != nil {
				t.Errorf("a member of the deleted team is gone: %v", err)
			}
		})
	})
}
