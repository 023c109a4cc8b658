// Command coldstart measures how long metricsd takes from the start of its
// process to the first 200 answer to a GET, over several runs, and how much
// memory the process holds then (internal/perf/scale-1m.sh):
//
//	go run ./internal/perf/coldstart -bin /tmp/metricsd -database sqlite:/tmp/1m.db \
//	  -addr 127.0.0.1:18281 -path /api/v2/metrics/default/metric-500000 -runs 5
//
// Each run starts the binary with METRICSD_ADMIN_TOKEN set to -token, asks
// for -path every millisecond (a new connection each time, so a refused
// connection is retried at once) until one answers 200, records the time,
// reads VmRSS and VmHWM from /proc/<pid>/status, and stops the process
// with SIGTERM. It prints each run and the median.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "metricsd binary")
	dbURL := flag.String("database", "", "database URL")
	addr := flag.String("addr", "127.0.0.1:18281", "listen address")
	path := flag.String("path", "/api/v2/metrics/default/metric-000001", "path to GET")
	token := flag.String("token", "loadtoken", "admin token")
	runs := flag.Int("runs", 5, "runs")
	flag.Parse()
	var times []time.Duration
	for i := range *runs {
		d, rss, hwm, err := run(*bin, *dbURL, *addr, *path, *token)
		if err != nil {
			log.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Printf("run %d: first 200 after %.1f ms, VmRSS %s, VmHWM %s\n", i+1, float64(d.Microseconds())/1000, rss, hwm)
		times = append(times, d)
	}
	slices.Sort(times)
	fmt.Printf("cold start median %.1f ms (min %.1f, max %.1f, %d runs)\n", ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]), len(times))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(bin, dbURL, addr, path, token string) (time.Duration, string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "--addr", addr, "--database", dbURL, "--log-level", "error",
		"--rate-limit", "0", "--rate-limit-route-read", "0", "--rate-limit-route-write", "0")
	cmd.Env = append(os.Environ(), "METRICSD_ADMIN_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, "", "", err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for {
		if ctx.Err() != nil {
			return 0, "", "", fmt.Errorf("no 200 from %s within a minute", path)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", token)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	d := time.Since(t0)
	rss, hwm := memory(cmd.Process.Pid)
	return d, rss, hwm, nil
}

// memory reads VmRSS and VmHWM of process pid.
func memory(pid int) (rss, hwm string) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?", "?"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		switch k {
		case "VmRSS":
			rss = strings.Join(strings.Fields(v), " ")
		case "VmHWM":
			hwm = strings.Join(strings.Fields(v), " ")
		}
	}
	return rss, hwm
}
