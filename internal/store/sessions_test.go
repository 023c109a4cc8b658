package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/testdb"
)

func TestSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		db := mustOpen(t, b.URL)
		created := time.UnixMilli(1_700_000_000_000).UTC()
		m := mustMember(t, db, "m1", "m1@example.com", "writer", created)
		tok := &account.Token{ID: "tok1", MemberID: m.ID, Name: "ui", Hash: account.HashToken("secret-one"), Ending: "-one", CreatedAt: created}
		if err := db.EnsureToken(ctx, tok); err != nil {
			t.Fatalf("EnsureToken: %v", err)
		}
		s := &account.Session{IDHash: []byte("hash-of-session-id-0123456789abc"), TokenID: tok.ID, TokenHash: tok.Hash, MemberID: m.ID,
			CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(24 * time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		got, err := db.SessionByHash(ctx, s.IDHash)
		if err != nil {
			t.Fatalf("SessionByHash: %v", err)
		}
		if d := cmp.Diff(s, got); d != "" {
			t.Errorf("session read back (-want +got):\n%s", d)
		}
		if _, err := db.SessionByHash(ctx, []byte("other")); err != core.ErrNotFound {
			t.Errorf("SessionByHash(unknown) = %v, want core.ErrNotFound", err)
		}
		// Touch moves last_seen_at forward only.
		later := created.Add(time.Hour)
		if err := db.TouchSession(ctx, s.IDHash, later); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		if err := db.TouchSession(ctx, s.IDHash, created.Add(time.Minute)); err != nil {
			t.Fatalf("TouchSession(earlier): %v", err)
		}
		if got, _ := db.SessionByHash(ctx, s.IDHash); got == nil || !got.LastSeenAt.Equal(later) {
			t.Errorf("LastSeenAt = %v, want %v", got, later)
		}
		// Expiry: idle since before the cut-off, or past the absolute end.
		if n, err := db.DeleteExpiredSessions(ctx, created.Add(2*time.Hour), created); err != nil || n != 0 {
			t.Errorf("DeleteExpiredSessions(live) = %d, %v; want 0", n, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx, created.Add(2*time.Hour), later.Add(time.Millisecond)); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions(idle) = %d, %v; want 1", n, err)
		}
		// Deleting the token deletes its sessions.
		s.IDHash = []byte("second-session-hash-0123456789ab")
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		raw := openRaw(t, b.URL)
		raw.exec("DELETE FROM tokens WHERE id = 'tok1'")
		if _, err := db.SessionByHash(ctx, s.IDHash); err != core.ErrNotFound {
			t.Errorf("session after its token was deleted: %v, want core.ErrNotFound", err)
		}
		// Sign-out.
		tok2 := &account.Token{ID: "tok2", MemberID: m.ID, Name: "ui2", Hash: account.HashToken("secret-two"), Ending: "-two", CreatedAt: created}
		if err := db.EnsureToken(ctx, tok2); err != nil {
			t.Fatalf("EnsureToken: %v", err)
		}
		s.TokenID, s.TokenHash = tok2.ID, tok2.Hash
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if err := db.DeleteSession(ctx, s.IDHash); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, err := db.SessionByHash(ctx, s.IDHash); err != core.ErrNotFound {
			t.Errorf("session after sign-out: %v, want core.ErrNotFound", err)
		}
		if err := db.DeleteSession(ctx, s.IDHash); err != nil {
			t.Errorf("DeleteSession(gone) = %v, want nil", err)
		}
	})
}
