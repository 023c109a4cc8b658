package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/testdb"
)

const killToken = "api-kill-test-0123456789abcdef0123456789abcdef"

// startServe starts the binary on db and waits until it is healthy.
func startServe(t *testing.T, bin, db string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--database", db)
	cmd.Env = append(os.Environ(), "METRICSD_ADMIN_TOKEN="+killToken)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	waitHealthy(t, base)
	return cmd, base
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", killToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&m) != nil {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return m
}

// TestKillDuringIngestion posts event batches from several senders at once,
// kills the process with SIGKILL while they are being stored, restarts it,
// and checks that every batch answered 202 was kept, whole: a 202 means
// committed.
func TestKillDuringIngestion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	testdb.Each(t, func(t *testing.T, b testdb.Backend) {
		cmd, base := startServe(t, bin, b.URL)
		sdkKey := getJSON(t, base+"/api/v2/projects/default/environments/production")["apiKey"].(string)

		const senders, perBatch = 8, 10
		var acked [senders]atomic.Int64
		var total atomic.Int64
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 10 * time.Second}
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				events := make([]string, perBatch)
				for i := range events {
					events[i] = fmt.Sprintf(`{"kind":"custom","key":"kill-%d","context":{"kind":"user","key":"u%d"},"metricValue":1}`, g, i)
				}
				body := "[" + strings.Join(events, ",") + "]"
				for n := range 5000 {
					req, _ := http.NewRequest("POST", base+"/bulk", strings.NewReader(body))
					req.Header.Set("Authorization", sdkKey)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-LaunchDarkly-Payload-ID", fmt.Sprintf("kill-%d-%d", g, n))
					resp, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						acked[g].Add(1)
						total.Add(1)
					}
				}
			}()
		}
		// Kill once a few hundred batches were acknowledged, mid-stream.
		deadline := time.Now().Add(20 * time.Second)
		for total.Load() < 300 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		wg.Wait()
		if total.Load() == 0 {
			t.Fatal("no batch was acknowledged before the kill")
		}

		_, base = startServe(t, bin, b.URL)
		for g := range senders {
			key := fmt.Sprintf("kill-%d", g)
			r := getJSON(t, base+"/api/v2/projects/default/environments/production/event-keys/custom/"+key+"/rollups")
			count := int64(r["totals"].(map[string]any)["count"].(float64))
			a := acked[g].Load()
			// Each sender had at most one post in flight at the kill: it may
			// or may not have been committed, but never in part.
			if count < a*perBatch || count > (a+1)*perBatch || count%perBatch != 0 {
				t.Errorf("%s: %d events stored after the kill, %d batches of %d acknowledged", key, count, a, perBatch)
			}
		}
		t.Logf("%s: %d batches acknowledged before SIGKILL, all present after restart", b.Name, total.Load())
	})
}
