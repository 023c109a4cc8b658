package catalog_test

import (
	"context"
	"testing"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestAuthenticateHashRecordsUse: the web UI's sessions authenticate by
// the token's hash on every request; each such use counts for lastUsed.
func TestAuthenticateHashRecordsUse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		db, err := store.Open(ctx, b.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		svc := catalog.New(db)
		const secret = "api-uses-test"
		if _, err := svc.Auth.Bootstrap(ctx, secret); err != nil {
			t.Fatal(err)
		}
		p, err := svc.Auth.AuthenticateHash(ctx, catalog.HashToken(secret))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := db.GetToken(ctx, p.TokenID)
		if err != nil || !tok.LastUsed.IsZero() {
			t.Fatalf("before the write: %v, lastUsed %v", err, tok.LastUsed)
		}
		if err := svc.TokenUses.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if tok, err = db.GetToken(ctx, p.TokenID); err != nil || tok.LastUsed.IsZero() {
			t.Fatalf("after the write: %v, lastUsed %v", err, tok.LastUsed)
		}
	})
}
