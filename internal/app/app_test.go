package app

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	defaults := Config{Addr: ":8080", DatabaseURL: "sqlite:metricsd.db", AuthCacheTTL: 2 * time.Second, LogLevel: slog.LevelInfo, RequestTimeout: 10 * time.Second}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{name: "serve is the default command", args: []string{"serve"}, want: defaults},
		{name: "environment", env: map[string]string{
			"METRICSD_ADDR": "127.0.0.1:9000", "METRICSD_DATABASE_URL": "postgres://db/x", "METRICSD_ADMIN_TOKEN": "tok",
			"METRICSD_LOG_LEVEL": "debug", "METRICSD_RATE_LIMIT": "100", "METRICSD_REQUEST_TIMEOUT": "3s",
		}, want: Config{Addr: "127.0.0.1:9000", DatabaseURL: "postgres://db/x", AdminToken: "tok", AuthCacheTTL: 2 * time.Second, LogLevel: slog.LevelDebug, RateLimit: 100, RequestTimeout: 3 * time.Second}},
		{name: "flags win over environment",
			args: []string{"--addr", ":1", "--database", "sqlite:other.db", "--rate-limit", "7", "--auth-cache-ttl", "0s", "--request-timeout", "1500ms"},
			env:  map[string]string{"METRICSD_ADDR": ":2", "METRICSD_DATABASE_URL": "sqlite:env.db", "METRICSD_REQUEST_TIMEOUT": "3s"},
			want: Config{Addr: ":1", DatabaseURL: "sqlite:other.db", AuthCacheTTL: 0, LogLevel: slog.LevelInfo, RateLimit: 7, RequestTimeout: 1500 * time.Millisecond}},
		{name: "bad request timeout", args: []string{"--request-timeout", "0s"}, wantErr: `--request-timeout must be a positive duration such as 10s, not "0s"`},
		{name: "bad rate limit", args: []string{"--rate-limit", "-1"}, wantErr: `--rate-limit must be a non-negative integer, not "-1"`},
		{name: "bad log level", env: map[string]string{"METRICSD_LOG_LEVEL": "loud"}, wantErr: `--log-level: slog: level string "loud": unknown name`},
		{name: "stray argument", args: []string{"serve", "now"}, wantErr: `unexpected argument "now"; usage: metricsd [serve] [flags]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://user:secret@db:5432/x?sslmode=disable": "postgres://user:xxxxx@db:5432/x?sslmode=disable",
		"postgres://postgres@127.0.0.1/test":               "postgres://postgres@127.0.0.1/test",
		"sqlite:metricsd.db":                               "sqlite:metricsd.db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
