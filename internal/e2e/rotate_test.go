package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestReplicasStartWithRotatedAdminToken starts several replicas at once on
// an existing database with a METRICSD_ADMIN_TOKEN the database has never
// seen, as a rolling token rotation does. Every replica must start, the new
// token must work through each of them, and exactly one token row must hold
// its hash. Several rounds, each with a new token, make the race likely.
func TestReplicasStartWithRotatedAdminToken(t *testing.T) {
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		// An existing database, bootstrapped with a generated token.
		a, stop := runApp(t, app.Config{DatabaseURL: b.URL})
		if a.AdminToken == "" {
			t.Fatal("the first start on a fresh database generated no token")
		}
		stop()

		raw := openSeedDB(t, b)
		countHash := func(hash []byte) int {
			t.Helper()
			q := "SELECT COUNT(*) FROM tokens WHERE hash = ?"
			if raw.numbered {
				q = "SELECT COUNT(*) FROM tokens WHERE hash = $1"
			}
			var n int
			if err := raw.db.QueryRowContext(context.Background(), q, hash).Scan(&n); err != nil {
				t.Fatalf("count tokens: %v", err)
			}
			return n
		}

		const replicas, rounds = 5, 4
		for round := range rounds {
			token := fmt.Sprintf("api-rotated-%d-0123456789abcdef0123456789abcdef", round)
			apps := make([]*app.App, replicas)
			errs := make([]error, replicas)
			var ready, wg sync.WaitGroup
			ready.Add(replicas)
			start := make(chan struct{})
			for i := range replicas {
				wg.Go(func() {
					ready.Done()
					<-start
					apps[i], errs[i] = app.Open(context.Background(),
						app.Config{Addr: "127.0.0.1:0", DatabaseURL: b.URL, AdminToken: token},
						slog.New(slog.NewTextHandler(io.Discard, nil)))
				})
			}
			ready.Wait()
			close(start)
			wg.Wait()

			var running []*app.App
			for i, a := range apps {
				if errs[i] != nil {
					t.Errorf("round %d: replica %d did not start: %v", round, i, errs[i])
					continue
				}
				running = append(running, a)
			}
			for i, a := range running {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- a.Serve(ctx) }()
				e := newEnv(t, b, a, token)
				if st := canList(t, e, token); st != http.StatusOK {
					t.Errorf("round %d: the rotated token through replica %d: status %d, want 200", round, i, st)
				}
				if a.AdminToken != "" {
					t.Errorf("round %d: replica %d generated a token although one was configured", round, i)
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("round %d: replica %d: Serve returned %v, want nil", round, i, err)
				}
			}
			if n := countHash(catalog.HashToken(token)); n != 1 {
				t.Errorf("round %d: %d token rows hold the rotated token's hash, want exactly 1", round, n)
			}
			if t.Failed() {
				return
			}
		}
	})
}
