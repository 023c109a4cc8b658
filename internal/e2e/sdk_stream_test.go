package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/metricsd/metricsd/internal/app"
	"github.com/metricsd/metricsd/internal/testdb"
)

// TestFlagStreamShutdown checks that an open browser flag stream, which
// never goes idle, does not hold up a graceful shutdown: the stream ends
// and Serve returns nil promptly.
func TestFlagStreamShutdown(t *testing.T) {
	b := testdb.New(t, "sqlite")
	a, stop := runApp(t, app.Config{DatabaseURL: b.URL, AdminToken: testAdminToken})
	e := newEnv(t, b, a, testAdminToken)
	envRep, _, err := e.client.EnvironmentsApi.GetEnvironment(context.Background(), "default", "production").Execute()
	if err != nil {
		t.Fatal(err)
	}
	seg := base64.RawURLEncoding.EncodeToString([]byte(`{"kind":"user","key":"u"}`))
	resp, err := http.Get(e.base + "/eval/" + envRep.Id + "/" + seg)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != "event: put\n" || resp.StatusCode != 200 {
		t.Fatalf("stream = %d, first line %q, %v", resp.StatusCode, line, err)
	}
	stop() // fails the test unless Serve returns nil within 30 s
	if _, err := io.ReadAll(rd); err != nil {
		t.Errorf("stream after shutdown: %v, want a clean end", err)
	}
}
