package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/testdb"
	"github.com/metricsd/metricsd/internal/version"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mainRun is one run of Main in the background.
type mainRun struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan struct{} // closed when Main has returned
	code           int           // Main's exit code, once done is closed
}

// startMain runs Main with args and env until it exits or logs that it
// listens; it returns the address, empty if Main exited first.
func startMain(t *testing.T, args []string, env map[string]string) (*mainRun, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &mainRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.code = Main(ctx, args, func(k string) string { return env[k] }, &r.stdout, &r.stderr)
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	listening := regexp.MustCompile(`msg="metricsd listening" addr=(\S+)`)
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(r.stderr.String()); m != nil {
			return r, m[1]
		}
		select {
		case <-r.done:
			return r, ""
		case <-deadline:
			t.Fatalf("Main neither listened nor exited within 30s; stderr:\n%s", r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop cancels Main and returns its exit code.
func (r *mainRun) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.code
	case <-time.After(30 * time.Second):
		t.Fatal("Main did not return within 30s of cancellation")
		return -1
	}
}

// TestMainLogsHTTPScheme: without --tls-cert the start-up line says
// scheme=http, also once the start-up handler is being served (net/http
// then sets the server's TLSConfig for HTTP/2, which is no sign of TLS).
func TestMainLogsHTTPScheme(t *testing.T) {
	dir := t.TempDir()
	r, addr := startMain(t, []string{"--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "m.db")}, nil)
	if addr == "" {
		t.Fatalf("Main exited with %d; stderr:\n%s", r.code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "scheme=http ") {
		t.Errorf("start-up log does not say http:\n%s", r.stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz over HTTP: %d", resp.StatusCode)
	}
}

// selfSigned writes a certificate for localhost and 127.0.0.1 and its key
// to dir and returns their paths and the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestMainServesHTTPS starts metricsd with a self-signed certificate (the
// certificate from a flag, the key from the environment): a client trusting
// the certificate gets 200 from /healthz over HTTPS, TLS 1.1 is refused, and
// plain HTTP gets Go's 400 for HTTP on an HTTPS port.
func TestMainServesHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir)
	r, addr := startMain(t,
		[]string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "m.db"), "--tls-cert", certFile},
		map[string]string{"METRICSD_TLS_KEY": keyFile})
	if addr == "" {
		t.Fatalf("Main exited with %d; stderr:\n%s", r.code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "scheme=https") {
		t.Errorf("start-up log does not say https:\n%s", r.stderr.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, host := range []string{addr, strings.Replace(addr, "127.0.0.1", "localhost", 1)} {
		resp, err := client.Get("https://" + host + "/healthz")
		if err != nil {
			t.Fatalf("GET https://%s/healthz: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"status":"ok","version":"` + version.Read().String() + `"}` + "\n"; resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET https://%s/healthz: %d %q, want 200 %q", host, resp.StatusCode, body, want)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET https://%s/healthz: TLS state %+v, want TLS 1.2 or newer", host, resp.TLS)
		}
	}

	old := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}}
	defer old.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: old, Timeout: 10 * time.Second}).Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("a TLS 1.1 client got status %d, want a failed handshake", resp.StatusCode)
	}

	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	resp, err := (&http.Client{Transport: plain, Timeout: 10 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("plain HTTP: %v (want Go's 400 answer)", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Client sent an HTTP request to an HTTPS server.") {
		t.Errorf("plain HTTP to the HTTPS port: %d %q, want 400 Client sent an HTTP request to an HTTPS server.", resp.StatusCode, body)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("exit code %d after cancellation, want 0; stderr:\n%s", code, r.stderr.String())
	}
}

// TestMainStartupErrors checks that configuration errors, from flags or the
// environment, exit 2 with one clear line and no panic, and that a TLS
// file that cannot be loaded fails start-up with exit code 1.
func TestMainStartupErrors(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "m.db")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantStderr string // the whole of stderr, or for code 1 a substring
	}{
		{name: "invalid auth cache ttl variable", env: map[string]string{"METRICSD_AUTH_CACHE_TTL": "forever"}, code: 2,
			wantStderr: "metricsd: invalid value \"forever\" for METRICSD_AUTH_CACHE_TTL: want a non-negative duration such as 2s, 500ms or 0s\n"},
		{name: "invalid rate limit variable", env: map[string]string{"METRICSD_RATE_LIMIT": "1e3"}, code: 2,
			wantStderr: "metricsd: invalid value \"1e3\" for METRICSD_RATE_LIMIT: want a non-negative integer\n"},
		{name: "invalid log level variable", env: map[string]string{"METRICSD_LOG_LEVEL": "verbose"}, code: 2,
			wantStderr: "metricsd: invalid value \"verbose\" for METRICSD_LOG_LEVEL: want debug, info, warn or error\n"},
		{name: "tls cert alone", env: map[string]string{"METRICSD_TLS_CERT": filepath.Join(dir, "cert.pem")}, code: 2,
			wantStderr: "metricsd: --tls-cert (METRICSD_TLS_CERT) is set but --tls-key (METRICSD_TLS_KEY) is not; give both to serve HTTPS, or neither\n"},
		{name: "tls key alone", args: []string{"--tls-key", "k.pem"}, code: 2,
			wantStderr: "metricsd: --tls-key (METRICSD_TLS_KEY) is set but --tls-cert (METRICSD_TLS_CERT) is not; give both to serve HTTPS, or neither\n"},
		{name: "missing tls files", args: []string{"--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", filepath.Join(dir, "none.key")}, code: 1,
			wantStderr: `msg="start-up failed" err="TLS certificate and key: open ` + filepath.Join(dir, "none.pem") + `: no such file or directory"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--addr", "127.0.0.1:0", "--database", db}, tt.args...)
			code := Main(context.Background(), args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if tt.code == 2 && stderr.String() != tt.wantStderr || tt.code != 2 && !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr\n got %q\nwant %q", stderr.String(), tt.wantStderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestMainLogsNoDatabasePassword starts metricsd with database URLs that
// carry a password in each form and checks that nothing it writes holds
// one: start-up failures (an unreachable port, a URL pgx rejects while
// echoing it, one that does not parse, the key=value form) and, when
// PostgreSQL is available, a successful start whose passwords trust
// authentication ignores.
func TestMainLogsNoDatabasePassword(t *testing.T) {
	secrets := []string{"s3cretUserinfo", "s3cretQuery", "s3cretSSLKey", "s3cretKV", "p4ss", "w0rdZ"}
	check := func(t *testing.T, r *mainRun) {
		t.Helper()
		for _, out := range []string{r.stdout.String(), r.stderr.String()} {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("output holds the password %q:\n%s", s, out)
				}
			}
		}
	}
	failing := []struct{ name, dsn, wantErr string }{
		{"userinfo, unreachable", "postgres://postgres:s3cretUserinfo@127.0.0.1:1/test?sslmode=disable&connect_timeout=5",
			`err="open database postgres://postgres:xxxxx@127.0.0.1:1/test?sslmode=disable&connect_timeout=5: `},
		{"query password, unreachable", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&password=s3cretQuery&sslpassword=s3cretSSLKey",
			`err="open database postgres://postgres@127.0.0.1:1/test?sslmode=disable&password=xxxxx&sslpassword=xxxxx: `},
		{"query password, rejected by pgx", "postgres://postgres@127.0.0.1:1/test?password=s3cretQuery&sslmode=bogus",
			`sslmode is invalid`},
		{"every form, rejected by pgx", "postgres://postgres:s3cretUserinfo@127.0.0.1:1/test?password=s3cretQuery&sslpassword=s3cretSSLKey&port=notaport",
			`err="open database postgres://postgres:xxxxx@127.0.0.1:1/test?password=xxxxx&sslpassword=xxxxx&port=notaport: `},
		{"unparseable URL", "postgres://postgres:p4ss#w0rdZ@127.0.0.1:1/test",
			`err="database URL postgres://xxxxx is not a valid URL; percent-encode special characters`},
		{"key=value", "host=127.0.0.1 port=1 user=postgres password=s3cretKV sslmode=disable",
			`err="open database host=127.0.0.1 port=1 user=postgres password=xxxxx sslmode=disable: database URL must start with sqlite: or postgres://"`},
	}
	for _, tt := range failing {
		t.Run(tt.name, func(t *testing.T) {
			r, addr := startMain(t, []string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, map[string]string{"METRICSD_DATABASE_URL": tt.dsn})
			if addr != "" {
				t.Fatalf("metricsd started on %s", addr)
			}
			if code := r.code; code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(r.stderr.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, r.stderr.String())
			}
			check(t, r)
		})
	}

	t.Run("postgres, started", func(t *testing.T) {
		b := testdb.New(t, "postgres")
		u, err := url.Parse(b.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), "s3cretUserinfo")
		u.RawQuery += "&password=s3cretQuery&sslpassword=s3cretSSLKey"
		r, addr := startMain(t, []string{"--addr", "127.0.0.1:0", "--database", u.String(), "--log-level", "debug"}, nil)
		if addr == "" {
			t.Fatalf("Main exited with %d; stderr:\n%s", r.code, r.stderr.String())
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz: %d, want 200", resp.StatusCode)
		}
		if code := r.stop(t); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		want := `database="postgres://` + u.User.Username() + `:xxxxx@`
		if !strings.Contains(r.stderr.String(), want) || !strings.Contains(r.stderr.String(), "&password=xxxxx&sslpassword=xxxxx") {
			t.Errorf("start-up log lacks the redacted URL %s…&password=xxxxx&sslpassword=xxxxx:\n%s", want, r.stderr.String())
		}
		check(t, r)
	})
}
