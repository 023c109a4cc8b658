package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles metricsd once for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "metricsd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy waits until metricsd is ready: /readyz answers 200 once
// migrations are done (/healthz answers 200 "starting" before that).
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("metricsd did not become healthy")
}

// TestBinaryLifecycle starts the real binary with no token configured: it
// must print a generated admin token once, serve with it, drain and exit 0
// on SIGTERM, and not print a token again on the next start.
func TestBinaryLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")

	start := func() (*exec.Cmd, *bufio.Reader, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--addr", addr, "--database", db)
		cmd.Env = append(os.Environ(), "METRICSD_ADMIN_TOKEN=")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		base := "http://" + addr
		waitHealthy(t, base)
		return cmd, bufio.NewReader(stdout), base
	}
	stop := func(cmd *exec.Cmd) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("metricsd exited with %v after SIGTERM, want exit status 0", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("metricsd did not exit after SIGTERM")
		}
	}

	cmd, stdout, base := start()
	line, err := stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the token line: %v", err)
	}
	const prefix = "metricsd: created admin access token (shown only this once): "
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("first stdout line = %q, want the generated token", line)
	}
	token := strings.TrimSpace(strings.TrimPrefix(line, prefix))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/projects/default", nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET project default with the printed token: status %d, want 200", resp.StatusCode)
	}
	stop(cmd)

	cmd, stdout, base = start()
	// metricsd version names the build /healthz reports.
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("metricsd version: %v", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	ver, ok := strings.CutPrefix(first, "metricsd ")
	if !ok || ver == "" {
		t.Errorf("metricsd version printed %q, want metricsd VERSION first", out)
	}
	resp, err = http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct{ Status, Version string }
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || health.Status != "ok" || health.Version != ver {
		t.Errorf("/healthz %+v (%v), want status ok and version %q", health, err, ver)
	}
	stop(cmd)
	rest, _ := io.ReadAll(stdout)
	if strings.Contains(string(rest), "admin access token") {
		t.Errorf("second start printed a token again: %q", rest)
	}
}
