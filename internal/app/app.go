// Package app wires metricsd together: configuration, store, catalog,
// HTTP server and graceful shutdown. cmd/metricsd and the end-to-end tests
// both start the service through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/ingest"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
)

// Config is the start-up configuration.
type Config struct {
	Addr         string
	DatabaseURL  string
	AdminToken   string
	AuthCacheTTL time.Duration
	// RateLimits are the rate limit windows; nil means ratelimit.Defaults(),
	// a zero Config no limits.
	RateLimits *ratelimit.Config
	// RateLimitPerReplica counts the windows in each replica's memory even
	// on PostgreSQL, where they are otherwise counted in the database that
	// the replicas share.
	RateLimitPerReplica bool
	// Clock tells the rate limiter the time; nil is the system clock. It
	// has no flag: tests set it to start windows where they want.
	Clock    core.Clock
	LogLevel slog.Level
	// RequestTimeout bounds an API request, its database calls included.
	RequestTimeout time.Duration
	// TLSCert and TLSKey name PEM files; when both are set the server
	// serves HTTPS only. One without the other is an error.
	TLSCert, TLSKey string
	// Event ingestion (LaunchDarkly's event protocol): the largest body
	// of a post (sent and decompressed), the posts handled at once, and
	// the events waiting for their commit before posts get 503.
	EventsMaxBody     int
	EventsMaxInflight int
	EventsMaxPending  int
}

// check reports a configuration that cannot start.
func (c Config) check() error {
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return errors.New("--tls-cert (METRICSD_TLS_CERT) is set but --tls-key (METRICSD_TLS_KEY) is not; give both to serve HTTPS, or neither")
	case c.TLSCert == "" && c.TLSKey != "":
		return errors.New("--tls-key (METRICSD_TLS_KEY) is set but --tls-cert (METRICSD_TLS_CERT) is not; give both to serve HTTPS, or neither")
	}
	return nil
}

// envAdminToken is the one setting without a flag: a secret on a command
// line is visible to every user of the machine.
const envAdminToken = "METRICSD_ADMIN_TOKEN"

// ParseConfig reads the flags; a flag not given takes its value from its
// environment variable (METRICSD_ plus the flag name in capitals, "-" as
// "_", except --database: METRICSD_DATABASE_URL) when that is set and not
// empty, else its default. A flag given wins over its variable. The admin
// token comes only from METRICSD_ADMIN_TOKEN.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("metricsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limits := ratelimit.Defaults()
	cfg := Config{Addr: ":8080", DatabaseURL: "sqlite:metricsd.db", AuthCacheTTL: 2 * time.Second, RateLimits: &limits, LogLevel: slog.LevelInfo, RequestTimeout: api.DefaultRequestTimeout}
	var envs []struct{ flag, env string }
	bind := func(v flag.Value, name, env, usage string) {
		fs.Var(v, name, usage+" (env "+env+")")
		envs = append(envs, struct{ flag, env string }{name, env})
	}
	bind((*stringValue)(&cfg.Addr), "addr", "METRICSD_ADDR", "listen `address`")
	bind((*stringValue)(&cfg.DatabaseURL), "database", "METRICSD_DATABASE_URL", "database `URL`: sqlite:PATH or postgres://...")
	bind((*durationValue)(&cfg.AuthCacheTTL), "auth-cache-ttl", "METRICSD_AUTH_CACHE_TTL", "how long a verified token is trusted before the store is asked again; 0 asks every time")
	bind((*countValue)(&limits.Global), "rate-limit", "METRICSD_RATE_LIMIT", "authenticated API `requests` per 10 seconds that all tokens share (the global window); 0 switches it off")
	bind((*countValue)(&limits.RouteRead), "rate-limit-route-read", "METRICSD_RATE_LIMIT_ROUTE_READ", "GET `requests` per 10 seconds to one route pattern; 0 switches these windows off")
	bind((*countValue)(&limits.RouteWrite), "rate-limit-route-write", "METRICSD_RATE_LIMIT_ROUTE_WRITE", "POST, PATCH and DELETE `requests` per 10 seconds to one route pattern and verb; 0 switches these windows off")
	bind((*percentValue)(&limits.TokenShare), "rate-limit-token-share", "METRICSD_RATE_LIMIT_TOKEN_SHARE", "largest `percent`age of the global window one access token may use; 0 or 100 for no cap")
	bind((*boolValue)(&cfg.RateLimitPerReplica), "rate-limit-per-replica", "METRICSD_RATE_LIMIT_PER_REPLICA", "count rate limits in each replica's memory instead of the PostgreSQL database the replicas share")
	bind((*positiveDurationValue)(&cfg.RequestTimeout), "request-timeout", "METRICSD_REQUEST_TIMEOUT", "longest an API request may take, database calls included, before 503")
	bind((*levelValue)(&cfg.LogLevel), "log-level", "METRICSD_LOG_LEVEL", "log `level`: debug, info (the default), warn, error")
	bind((*stringValue)(&cfg.TLSCert), "tls-cert", "METRICSD_TLS_CERT", "PEM certificate `file` (chain) to serve HTTPS; needs --tls-key")
	bind((*stringValue)(&cfg.TLSKey), "tls-key", "METRICSD_TLS_KEY", "PEM private key `file` to serve HTTPS; needs --tls-cert")
	bind((*countValue)(&cfg.EventsMaxBody), "events-max-body", "METRICSD_EVENTS_MAX_BODY", "largest SDK event post in `bytes`, as sent and decompressed, before 413; 0 means 10 MiB")
	bind((*countValue)(&cfg.EventsMaxInflight), "events-max-inflight", "METRICSD_EVENTS_MAX_INFLIGHT", "SDK event `posts` read at once before 503; 0 means 64")
	bind((*countValue)(&cfg.EventsMaxPending), "events-max-pending", "METRICSD_EVENTS_MAX_PENDING", "`events` waiting for their commit before posts get 503; 0 means 200000")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: metricsd [serve] [flags]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nenvironment only:\n  %s\n    \tan admin access token to accept\n", envAdminToken)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; usage: metricsd [serve] [flags]", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, e := range envs {
		v := getenv(e.env)
		if given[e.flag] || v == "" {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			return cfg, fmt.Errorf("invalid value %q for %s: %w", v, e.env, err)
		}
	}
	cfg.AdminToken = getenv(envAdminToken)
	return cfg, cfg.check()
}

// stringValue is a flag.Value for a string.
type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

// durationValue is a flag.Value for a non-negative duration.
type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	p, err := time.ParseDuration(v)
	if err != nil || p < 0 {
		return errors.New("want a non-negative duration such as 2s, 500ms or 0s")
	}
	*d = durationValue(p)
	return nil
}
func (d *durationValue) String() string { return time.Duration(*d).String() }

// positiveDurationValue is a flag.Value for a duration above zero.
type positiveDurationValue time.Duration

func (d *positiveDurationValue) Set(v string) error {
	p, err := time.ParseDuration(v)
	if err != nil || p <= 0 {
		return errors.New("want a positive duration such as 10s")
	}
	*d = positiveDurationValue(p)
	return nil
}
func (d *positiveDurationValue) String() string { return time.Duration(*d).String() }

// countValue is a flag.Value for a non-negative integer.
type countValue int

func (c *countValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("want a non-negative integer")
	}
	*c = countValue(n)
	return nil
}
func (c *countValue) String() string { return strconv.Itoa(int(*c)) }

// percentValue is a flag.Value for an integer from 0 to 100.
type percentValue int

func (p *percentValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 {
		return errors.New("want a percentage from 0 to 100")
	}
	*p = percentValue(n)
	return nil
}
func (p *percentValue) String() string { return strconv.Itoa(int(*p)) }

// boolValue is a flag.Value for a boolean; the flag alone means true.
type boolValue bool

func (b *boolValue) Set(v string) error {
	p, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b = boolValue(p)
	return nil
}
func (b *boolValue) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) IsBoolFlag() bool { return true }

// levelValue is a flag.Value for a log level.
type levelValue slog.Level

func (l *levelValue) Set(v string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	*l = levelValue(lv)
	return nil
}
func (l *levelValue) String() string { return strings.ToLower(slog.Level(*l).String()) }

// App is a running metricsd.
type App struct {
	cfg    Config
	log    *slog.Logger
	store  *store.DB
	server *http.Server
	ln     net.Listener
	// events receives SDK events; its flusher runs while Serve does.
	events *events.Service
	// AdminToken is the token generated for a fresh database, empty if none.
	AdminToken string
}

// Open connects the store, applies migrations, seeds a fresh database and
// binds the listener. Its errors never hold a secret of cfg.DatabaseURL.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate and key: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	if err := checkDSN(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, redactError("open database "+RedactDSN(cfg.DatabaseURL), cfg.DatabaseURL, err)
	}
	cat := catalog.New(db)
	generated, err := cat.Auth.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		db.Close()
		return nil, redactError("bootstrap", cfg.DatabaseURL, err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, err
	}
	evs := events.NewService(db, events.Options{Flusher: events.FlusherOptions{MaxPending: int64(cfg.EventsMaxPending), Logger: log}})
	cat.Projects.OnCredentialsRevoked(evs.Keys.Forget)
	opts := api.Options{Logger: log, AuthCacheTTL: cfg.AuthCacheTTL, RateLimits: cfg.RateLimits, RequestTimeout: cfg.RequestTimeout, Clock: cfg.Clock,
		Explorer: events.NewExplorer(db, nil)}
	if !cfg.RateLimitPerReplica {
		// nil on SQLite, whose one replica counts in memory.
		opts.RateCounter = db.RateCounter()
	}
	srv := api.New(cat, opts)
	// The SDK protocols' paths are served beside the REST API, on the same
	// listener, without its access-token authentication or CORS policy:
	// the event endpoints, then the browser SDKs' goals, flag evaluation
	// and flag stream.
	browserMux := http.NewServeMux()
	browser := ingest.NewBrowser(evs.Keys, evs.Goals, ingest.BrowserOptions{Logger: log, RequestTimeout: cfg.RequestTimeout})
	browser.Register(browserMux)
	root := ingest.New(evs, ingest.Options{MaxBodyBytes: int64(cfg.EventsMaxBody), MaxInflight: cfg.EventsMaxInflight, Logger: log}).
		Handler(ingest.Mount(browserMux, srv))
	a := &App{cfg: cfg, log: log, store: db, ln: ln, AdminToken: generated, events: evs}
	a.server = &http.Server{
		Handler:           root,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Flag streams never go idle: shutdown ends them.
	a.server.RegisterOnShutdown(browser.Close)
	return a, nil
}

// Addr is the address the server listens on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// TLS reports whether the server serves HTTPS.
func (a *App) TLS() bool { return a.server.TLSConfig != nil }

// Store is the app's store.
func (a *App) Store() *store.DB { return a.store }

// Serve answers requests until ctx is cancelled, then drains in-flight
// requests and closes the store.
func (a *App) Serve(ctx context.Context) error {
	// The flusher outlives the HTTP server: posts still being answered
	// during shutdown wait for their commit.
	flushCtx, stopFlusher := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() { a.events.Flusher.Run(flushCtx); close(flushed) }()
	defer func() { stopFlusher(); <-flushed }()
	errc := make(chan error, 1)
	go func() {
		if a.TLS() {
			// The certificate is in TLSConfig already.
			errc <- a.server.ServeTLS(a.ln, "", "")
			return
		}
		errc <- a.server.Serve(a.ln)
	}()
	select {
	case err := <-errc:
		stopFlusher()
		<-flushed
		a.store.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := a.server.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	stopFlusher()
	<-flushed
	return errors.Join(err, a.store.Close())
}

// Main runs metricsd with the process's arguments and environment. It
// returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "metricsd:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	a, err := Open(ctx, cfg, log)
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 1
	}
	if a.AdminToken != "" {
		// Shown once, on the terminal, never through the logger.
		fmt.Fprintf(stdout, "metricsd: created admin access token (shown only this once): %s\n", a.AdminToken)
	}
	scheme := "http"
	if a.TLS() {
		scheme = "https"
	}
	log.Info("metricsd listening", "addr", a.Addr().String(), "scheme", scheme, "database", RedactDSN(cfg.DatabaseURL))
	if err := a.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("metricsd stopped")
	return 0
}
