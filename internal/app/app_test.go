package app

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metricsd/metricsd/internal/ratelimit"
)

func TestParseConfig(t *testing.T) {
	// The rate limits are on by default.
	defaultLimits := ratelimit.Config{Global: 1000, RouteRead: 500, RouteWrite: 100, TokenShare: 50}
	limits := func(f func(*ratelimit.Config)) *ratelimit.Config {
		l := defaultLimits
		f(&l)
		return &l
	}
	defaults := Config{Addr: ":8080", DatabaseURL: "sqlite:metricsd.db", AuthCacheTTL: 2 * time.Second, RateLimits: &defaultLimits, RateLimitSharedTimeout: 100 * time.Millisecond, LogLevel: slog.LevelInfo, RequestTimeout: 10 * time.Second}
	with := func(f func(*Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	allEnv := map[string]string{
		"METRICSD_ADDR": "127.0.0.1:9000", "METRICSD_DATABASE_URL": "postgres://db/x", "METRICSD_ADMIN_TOKEN": "tok",
		"METRICSD_LOG_LEVEL": "debug", "METRICSD_RATE_LIMIT": "100", "METRICSD_AUTH_CACHE_TTL": "250ms",
		"METRICSD_TLS_CERT": "/etc/m/cert.pem", "METRICSD_TLS_KEY": "/etc/m/key.pem", "METRICSD_REQUEST_TIMEOUT": "3s",
		"METRICSD_RATE_LIMIT_ROUTE_READ": "40", "METRICSD_RATE_LIMIT_ROUTE_WRITE": "20", "METRICSD_RATE_LIMIT_TOKEN_SHARE": "25",
		"METRICSD_RATE_LIMIT_PER_REPLICA": "true", "METRICSD_RATE_LIMIT_IP": "300",
		"METRICSD_RATE_LIMIT_SHARED_TIMEOUT": "250ms",
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{name: "serve is the default command", args: []string{"serve"}, want: defaults},
		{name: "every flag from the environment", env: allEnv, want: Config{
			Addr: "127.0.0.1:9000", DatabaseURL: "postgres://db/x", AdminToken: "tok", AuthCacheTTL: 250 * time.Millisecond,
			LogLevel: slog.LevelDebug, RateLimits: &ratelimit.Config{Global: 100, RouteRead: 40, RouteWrite: 20, TokenShare: 25, Address: 300}, RateLimitPerReplica: true, RateLimitSharedTimeout: 250 * time.Millisecond,
			TLSCert: "/etc/m/cert.pem", TLSKey: "/etc/m/key.pem", RequestTimeout: 3 * time.Second,
		}},
		{name: "every flag wins over the environment",
			args: []string{"serve", "--addr", ":1", "--database", "sqlite:other.db", "--rate-limit", "7", "--auth-cache-ttl", "0s",
				"--log-level", "warn", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--request-timeout", "1500ms",
				"--rate-limit-route-read", "8", "--rate-limit-route-write", "9", "--rate-limit-token-share", "100", "--rate-limit-per-replica=false", "--rate-limit-ip", "50", "--rate-limit-shared-timeout", "1s"},
			env: allEnv,
			want: Config{Addr: ":1", DatabaseURL: "sqlite:other.db", AdminToken: "tok", AuthCacheTTL: 0, LogLevel: slog.LevelWarn,
				RateLimits: &ratelimit.Config{Global: 7, RouteRead: 8, RouteWrite: 9, TokenShare: 100, Address: 50}, RateLimitSharedTimeout: time.Second,
				TLSCert: "c.pem", TLSKey: "k.pem", RequestTimeout: 1500 * time.Millisecond}},
		{name: "every rate limit switched off", args: []string{"--rate-limit=0", "--rate-limit-route-read=0", "--rate-limit-route-write=0"},
			want: with(func(c *Config) {
				c.RateLimits = limits(func(l *ratelimit.Config) { l.Global, l.RouteRead, l.RouteWrite = 0, 0, 0 })
			})},
		{name: "a bulk import: write windows and the token cap off", env: map[string]string{"METRICSD_RATE_LIMIT_ROUTE_WRITE": "0", "METRICSD_RATE_LIMIT_TOKEN_SHARE": "0"},
			want: with(func(c *Config) {
				c.RateLimits = limits(func(l *ratelimit.Config) { l.RouteWrite, l.TokenShare = 0, 0 })
			})},
		{name: "per replica as a bare flag", args: []string{"--rate-limit-per-replica"},
			want: with(func(c *Config) { c.RateLimitPerReplica = true })},
		{name: "a flag wins over an invalid variable", args: []string{"--auth-cache-ttl=1m"}, env: map[string]string{"METRICSD_AUTH_CACHE_TTL": "soon"},
			want: with(func(c *Config) { c.AuthCacheTTL = time.Minute })},
		{name: "an empty variable is unset", env: map[string]string{"METRICSD_ADDR": "", "METRICSD_AUTH_CACHE_TTL": "", "METRICSD_RATE_LIMIT": ""}, want: defaults},
		{name: "auth cache ttl from the environment", env: map[string]string{"METRICSD_AUTH_CACHE_TTL": "0"},
			want: with(func(c *Config) { c.AuthCacheTTL = 0 })},
		{name: "replica lease from the environment", env: map[string]string{"METRICSD_REPLICA_LEASE": "500ms"},
			want: with(func(c *Config) { c.ReplicaLease = 500 * time.Millisecond })},
		{name: "replica lease switched off", args: []string{"--replica-lease", "0s"},
			want: with(func(c *Config) { c.ReplicaLease = -1 })},
		{name: "tls cert from a flag, key from the environment", args: []string{"--tls-cert", "c.pem"}, env: map[string]string{"METRICSD_TLS_KEY": "k.pem"},
			want: with(func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" })},

		{name: "bad request timeout", args: []string{"--request-timeout", "0s"}, wantErr: `invalid value "0s" for flag -request-timeout: want a positive duration such as 10s`},
		{name: "bad rate limit flag", args: []string{"--rate-limit", "-1"}, wantErr: `invalid value "-1" for flag -rate-limit: want a non-negative integer`},
		{name: "bad rate limit variable", env: map[string]string{"METRICSD_RATE_LIMIT": "lots"}, wantErr: `invalid value "lots" for METRICSD_RATE_LIMIT: want a non-negative integer`},
		{name: "bad route write limit", args: []string{"--rate-limit-route-write", "-5"}, wantErr: `invalid value "-5" for flag -rate-limit-route-write: want a non-negative integer`},
		{name: "bad route read limit variable", env: map[string]string{"METRICSD_RATE_LIMIT_ROUTE_READ": "x"}, wantErr: `invalid value "x" for METRICSD_RATE_LIMIT_ROUTE_READ: want a non-negative integer`},
		{name: "token share above 100", args: []string{"--rate-limit-token-share", "150"}, wantErr: `invalid value "150" for flag -rate-limit-token-share: want a percentage from 0 to 100`},
		{name: "bad shared timeout", args: []string{"--rate-limit-shared-timeout", "0s"}, wantErr: `invalid value "0s" for flag -rate-limit-shared-timeout: want a positive duration such as 10s`},
		{name: "bad per replica variable", env: map[string]string{"METRICSD_RATE_LIMIT_PER_REPLICA": "maybe"}, wantErr: `invalid value "maybe" for METRICSD_RATE_LIMIT_PER_REPLICA: want true or false`},
		{name: "bad auth cache ttl variable", env: map[string]string{"METRICSD_AUTH_CACHE_TTL": "2"}, wantErr: `invalid value "2" for METRICSD_AUTH_CACHE_TTL: want a non-negative duration such as 2s, 500ms or 0s`},
		{name: "negative auth cache ttl variable", env: map[string]string{"METRICSD_AUTH_CACHE_TTL": "-1s"}, wantErr: `invalid value "-1s" for METRICSD_AUTH_CACHE_TTL: want a non-negative duration such as 2s, 500ms or 0s`},
		{name: "bad auth cache ttl flag", args: []string{"--auth-cache-ttl", "x"}, wantErr: `invalid value "x" for flag -auth-cache-ttl: want a non-negative duration such as 2s, 500ms or 0s`},
		{name: "bad log level variable", env: map[string]string{"METRICSD_LOG_LEVEL": "loud"}, wantErr: `invalid value "loud" for METRICSD_LOG_LEVEL: want debug, info, warn or error`},
		{name: "tls cert without key", env: map[string]string{"METRICSD_TLS_CERT": "c.pem"},
			wantErr: `--tls-cert (METRICSD_TLS_CERT) is set but --tls-key (METRICSD_TLS_KEY) is not; give both to serve HTTPS, or neither`},
		{name: "tls key without cert", args: []string{"--tls-key", "k.pem"},
			wantErr: `--tls-key (METRICSD_TLS_KEY) is set but --tls-cert (METRICSD_TLS_CERT) is not; give both to serve HTTPS, or neither`},
		{name: "unknown event log version", env: map[string]string{"METRICSD_EVENTS_LOG_VERSION": "3"},
			wantErr: `--events-log-version (METRICSD_EVENTS_LOG_VERSION) is 3; want 1 or 2 (0 means 1)`},
		{name: "event log version 2", args: []string{"--events-log-version", "2"}, want: with(func(c *Config) { c.EventsLogVersion = 2 })},
		{name: "stray argument", args: []string{"serve", "now"}, wantErr: `unexpected argument "now"; usage: metricsd [serve] [flags]`},
		{name: "unknown flag", args: []string{"--admin-token", "x"}, wantErr: `flag provided but not defined: -admin-token`},
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

// TestUsageNamesEveryVariable checks that --help documents the variable of
// every flag and shows no default taken from the environment (it would
// print a database password).
func TestUsageNamesEveryVariable(t *testing.T) {
	var out strings.Builder
	_, err := ParseConfig([]string{"--help"}, func(k string) string {
		if k == "METRICSD_DATABASE_URL" {
			return "postgres://u:hunter2@db/x"
		}
		return ""
	}, &out)
	if err == nil || err.Error() != "flag: help requested" {
		t.Fatalf("--help: err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"usage: metricsd [serve] [flags]", "METRICSD_ADDR", "METRICSD_DATABASE_URL", "METRICSD_AUTH_CACHE_TTL",
		"METRICSD_RATE_LIMIT", "METRICSD_RATE_LIMIT_ROUTE_READ", "METRICSD_RATE_LIMIT_ROUTE_WRITE", "METRICSD_RATE_LIMIT_TOKEN_SHARE",
		"METRICSD_RATE_LIMIT_PER_REPLICA", "METRICSD_RATE_LIMIT_IP", "METRICSD_RATE_LIMIT_SHARED_TIMEOUT", "(default 1000)", "(default 100)", "METRICSD_LOG_LEVEL", "METRICSD_TLS_CERT", "METRICSD_TLS_KEY", "METRICSD_ADMIN_TOKEN", "(default sqlite:metricsd.db)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("usage shows the password from METRICSD_DATABASE_URL:\n%s", out.String())
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		name, dsn, want string
		secrets         []string // every secret the DSN holds, as found in error messages
	}{
		{name: "userinfo password", dsn: "postgres://user:secret@db:5432/x?sslmode=disable",
			want: "postgres://user:xxxxx@db:5432/x?sslmode=disable", secrets: []string{"secret"}},
		{name: "percent-encoded userinfo password", dsn: "postgres://user:p%40ss%2Fw0rd@db/x",
			want: "postgres://user:xxxxx@db/x", secrets: []string{"p%40ss%2Fw0rd", "p@ss/w0rd"}},
		{name: "no password", dsn: "postgres://postgres@127.0.0.1/test", want: "postgres://postgres@127.0.0.1/test"},
		{name: "empty password", dsn: "postgres://postgres:@127.0.0.1/test", want: "postgres://postgres:@127.0.0.1/test"},
		{name: "postgresql scheme", dsn: "postgresql://u:pw1@h/d", want: "postgresql://u:xxxxx@h/d", secrets: []string{"pw1"}},
		{name: "password query parameter", dsn: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&password=qsecret&search_path=s",
			want: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&password=xxxxx&search_path=s", secrets: []string{"qsecret"}},
		{name: "sslpassword query parameter", dsn: "postgres://h/d?sslkey=/k.pem&sslpassword=keypass&passfile=/p",
			want: "postgres://h/d?sslkey=/k.pem&sslpassword=xxxxx&passfile=/p", secrets: []string{"keypass"}},
		{name: "query parameter key in capitals and encoded", dsn: "postgres://h/d?PASSWORD=a1&pass%77ord=b%2B2&sslPassword=c3",
			want: "postgres://h/d?PASSWORD=xxxxx&pass%77ord=xxxxx&sslPassword=xxxxx", secrets: []string{"a1", "b%2B2", "b+2", "c3"}},
		{name: "every form at once", dsn: "postgres://u:one@h/d?password=two&sslpassword=three",
			want: "postgres://u:xxxxx@h/d?password=xxxxx&sslpassword=xxxxx", secrets: []string{"one", "two", "three"}},
		{name: "unparseable URL is hidden after the scheme", dsn: "postgres://u:p4ss#w0rd@h:5432/d",
			want: "postgres://xxxxx", secrets: []string{"u:p4ss#w0rd@h:5432/d"}},
		{name: "key=value", dsn: "host=db port=5432 user=u password=kvsecret dbname=x",
			want: "host=db port=5432 user=u password=xxxxx dbname=x", secrets: []string{"kvsecret"}},
		{name: "key=value quoted, spaces around =", dsn: "host=db password = 'p w d' sslpassword='k p'\tdbname=x",
			want: "host=db password = xxxxx sslpassword=xxxxx\tdbname=x", secrets: []string{"'p w d'", "p w d", "'k p'", "k p"}},
		{name: "key=value escaped quote", dsn: `password='a\'b c' host=h`,
			want: `password=xxxxx host=h`, secrets: []string{`'a\'b c'`, "a'b c", `a\'b c`}},
		{name: "sqlite", dsn: "sqlite:metricsd.db", want: "sqlite:metricsd.db"},
		{name: "sqlite with a query", dsn: "sqlite:/var/m.db?password=x9&mode=rw", want: "sqlite:/var/m.db?password=xxxxx&mode=rw", secrets: []string{"x9"}},
		{name: "empty", dsn: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, secrets := dsnSecrets(tt.dsn)
			if got != tt.want {
				t.Errorf("redacted %q\n got %q\nwant %q", tt.dsn, got, tt.want)
			}
			if RedactDSN(tt.dsn) != got {
				t.Errorf("RedactDSN and dsnSecrets disagree")
			}
			have := map[string]bool{}
			for _, s := range secrets {
				have[s] = true
			}
			for _, s := range tt.secrets {
				if !have[s] {
					t.Errorf("secret %q not found; found %q", s, secrets)
				}
				if strings.Contains(got, s) {
					t.Errorf("redacted form %q still holds %q", got, s)
				}
			}
			// An error message echoing the DSN comes out clean too.
			msg := redactText(`cannot parse "`+tt.dsn+`": bad`, tt.dsn)
			for _, s := range tt.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("redactText left %q in %q", s, msg)
				}
			}
		})
	}
}
