// Package app wires metricsd together: configuration, store, catalog,
// HTTP server and graceful shutdown. cmd/metricsd and the end-to-end tests
// both start the service through it.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/events"
	"github.com/metricsd/metricsd/internal/ingest"
	"github.com/metricsd/metricsd/internal/obs"
	"github.com/metricsd/metricsd/internal/ratelimit"
	"github.com/metricsd/metricsd/internal/store"
	"github.com/metricsd/metricsd/internal/version"
	"github.com/metricsd/metricsd/internal/web"
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
	// RateLimitSharedTimeout bounds the shared count of a request; past it
	// the replica counts the request alone.
	RateLimitSharedTimeout time.Duration
	// Clock tells the rate limiter the time; nil is the system clock. It
	// has no flag: tests set it to start windows where they want.
	Clock    core.Clock
	LogLevel slog.Level
	// RequestTimeout bounds an API request, its database calls included.
	RequestTimeout time.Duration
	// TokenUseInterval is how often the tokens' last uses are written
	// (lastUsed); 0 means account.DefaultTokenUseInterval. It has no flag:
	// tests shorten it.
	TokenUseInterval time.Duration
	// TLSCert and TLSKey name PEM files; when both are set the server
	// serves HTTPS only. One without the other is an error.
	TLSCert, TLSKey string
	// MetricsAddr is the address of the Prometheus listener (GET /metrics);
	// empty for none.
	MetricsAddr string
	// Event ingestion (LaunchDarkly's event protocol): the largest body
	// of a post (sent and decompressed), the posts handled at once, and
	// the events waiting for their commit before posts get 503.
	EventsMaxBody     int
	EventsMaxInflight int
	EventsMaxPending  int
	EventsCommitters  int
	EventsLogVersion  int
	// ReplicaLease is the lease of pushed invalidation on PostgreSQL
	// (store.WithReplicaLease): cached GETs read no generation while it
	// holds, and a write waits at most this long for a replica that stopped
	// acknowledging. Zero means store.DefaultLeaseDuration; negative
	// switches it off (every cached GET reads the generation).
	ReplicaLease time.Duration
}

// check reports a configuration that cannot start.
func (c Config) check() error {
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return errors.New("--tls-cert (METRICSD_TLS_CERT) is set but --tls-key (METRICSD_TLS_KEY) is not; give both to serve HTTPS, or neither")
	case c.TLSCert == "" && c.TLSKey != "":
		return errors.New("--tls-key (METRICSD_TLS_KEY) is set but --tls-cert (METRICSD_TLS_CERT) is not; give both to serve HTTPS, or neither")
	case c.EventsLogVersion > 2:
		return fmt.Errorf("--events-log-version (METRICSD_EVENTS_LOG_VERSION) is %d; want 1 or 2 (0 means 1)", c.EventsLogVersion)
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
	cfg := Config{Addr: ":8080", DatabaseURL: "sqlite:metricsd.db", AuthCacheTTL: 2 * time.Second, RateLimits: &limits, RateLimitSharedTimeout: ratelimit.DefaultSharedTimeout, LogLevel: slog.LevelInfo, RequestTimeout: api.DefaultRequestTimeout}
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
	bind((*countValue)(&limits.Address), "rate-limit-ip", "METRICSD_RATE_LIMIT_IP", "API `requests` per 10 seconds from one client address, whatever its tokens; 0 (the default) switches it off")
	bind((*positiveDurationValue)(&cfg.RateLimitSharedTimeout), "rate-limit-shared-timeout", "METRICSD_RATE_LIMIT_SHARED_TIMEOUT", "longest the shared PostgreSQL count of a request may take before the replica counts it alone")
	bind((*boolValue)(&cfg.RateLimitPerReplica), "rate-limit-per-replica", "METRICSD_RATE_LIMIT_PER_REPLICA", "count rate limits in each replica's memory instead of the PostgreSQL database the replicas share")
	bind((*positiveDurationValue)(&cfg.RequestTimeout), "request-timeout", "METRICSD_REQUEST_TIMEOUT", "longest an API request may take, database calls included, before 503")
	bind((*levelValue)(&cfg.LogLevel), "log-level", "METRICSD_LOG_LEVEL", "log `level`: debug, info (the default), warn, error")
	bind((*stringValue)(&cfg.TLSCert), "tls-cert", "METRICSD_TLS_CERT", "PEM certificate `file` (chain) to serve HTTPS; needs --tls-key")
	bind((*stringValue)(&cfg.TLSKey), "tls-key", "METRICSD_TLS_KEY", "PEM private key `file` to serve HTTPS; needs --tls-cert")
	bind((*countValue)(&cfg.EventsMaxBody), "events-max-body", "METRICSD_EVENTS_MAX_BODY", "largest SDK event post in `bytes`, as sent and decompressed, before 413; 0 means 10 MiB")
	bind((*countValue)(&cfg.EventsMaxInflight), "events-max-inflight", "METRICSD_EVENTS_MAX_INFLIGHT", "SDK event `posts` read at once before 503; 0 means 64")
	bind((*countValue)(&cfg.EventsMaxPending), "events-max-pending", "METRICSD_EVENTS_MAX_PENDING", "`events` waiting for their commit before posts get 503; 0 means 200000")
	bind((*countValue)(&cfg.EventsLogVersion), "events-log-version", "METRICSD_EVENTS_LOG_VERSION", "`version` of the event log records written: 1 (0, the default) is read by every release; 2 is a quarter smaller and read by this release and later: set it once no replica of an older release shares the database and none will be rolled back to")
	bind((*countValue)(&cfg.EventsCommitters), "events-committers", "METRICSD_EVENTS_COMMITTERS", "group `commits` of SDK events that run at once; 0 means 3 on PostgreSQL, 1 on SQLite")
	bind((*durationValue)(&cfg.ReplicaLease), "replica-lease", "METRICSD_REPLICA_LEASE", "PostgreSQL: lease of a replica that serves cached GETs without reading the database, told of other replicas' writes by LISTEN/NOTIFY; the longest a write waits for a replica that stopped answering; 0 switches it off (default 2s)")
	bind((*stringValue)(&cfg.MetricsAddr), "metrics-addr", "METRICSD_METRICS_ADDR", "listen `address` of the Prometheus endpoint GET /metrics, plain HTTP without authentication (e.g. 127.0.0.1:9464); empty (the default) for none")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: metricsd [serve] [flags]\n       metricsd version\n\nflags:\n")
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
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "replica-lease" && cfg.ReplicaLease == 0 {
			// Given as 0: off (the Config's zero is the default).
			cfg.ReplicaLease = -1
		}
	})
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
	cfg     Config
	log     *slog.Logger
	store   *store.DB
	server  *http.Server
	ln      net.Listener
	metrics *obs.Metrics
	// metricsServer serves GET /metrics on metricsLn; nil without
	// --metrics-addr.
	metricsServer *http.Server
	metricsLn     net.Listener
	// handler is what the server serves: the start-up handler until the
	// store is migrated and seeded, then the API.
	handler atomic.Pointer[http.Handler]
	// errc receives the servers' Serve errors; it has room for both.
	errc chan error
	// events receives SDK events; its flusher runs from Open until Serve
	// has drained the servers (posts being answered wait for commits).
	events      *events.Service
	stopFlusher context.CancelFunc
	flushed     chan struct{}
	// usesWritten is closed when the tokens' last uses are written, after
	// stopFlusher.
	usesWritten chan struct{}
	// AdminToken is the token generated for a fresh database, empty if none.
	AdminToken string
}

// Open binds the listeners and starts serving at once, answering /healthz
// 200 "starting", /readyz and the API 503, while it connects the store,
// applies migrations and seeds a fresh database; then it switches to the API
// and returns. Serve keeps serving until its context ends. If anything fails
// Open stops serving and returns the error, which never holds a secret of
// cfg.DatabaseURL.
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
	ver := version.Read().String()
	a := &App{cfg: cfg, log: log, metrics: obs.NewMetrics(ver), errc: make(chan error, 2)}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	a.ln = ln
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
		a.metricsLn = mln
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		a.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	opts := api.Options{Logger: log, AuthCacheTTL: cfg.AuthCacheTTL, RateLimits: cfg.RateLimits,
		RequestTimeout: cfg.RequestTimeout, Clock: cfg.Clock, Observer: a.metrics,
		RateObserver: rateObserver{a.metrics}, Version: ver}
	starting := api.Starting(opts)
	a.handler.Store(&starting)
	a.server = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*a.handler.Load()).ServeHTTP(w, r) }),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	a.startServing()
	log.Debug("accepting connections while the database is opened and migrated", "addr", ln.Addr().String())

	storeOpts := []store.Option{store.WithObserver(a.metrics)}
	if cfg.ReplicaLease >= 0 {
		storeOpts = append(storeOpts, store.WithReplicaLease(store.LeaseConfig{Duration: cfg.ReplicaLease, Log: log}))
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, storeOpts...)
	if err != nil {
		return nil, errors.Join(redactError("open database "+RedactDSN(cfg.DatabaseURL), cfg.DatabaseURL, err), a.stopServing())
	}
	a.store = db
	cat := catalog.New(db)
	generated, err := cat.Auth.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		return nil, errors.Join(redactError("bootstrap", cfg.DatabaseURL, err), a.stopServing(), db.Close())
	}
	a.AdminToken = generated
	if !cfg.RateLimitPerReplica {
		// nil on SQLite, whose one replica counts in memory.
		opts.RateCounter = db.RateCounter()
		opts.RateCounterTimeout = cfg.RateLimitSharedTimeout
	}
	pools := db.Pools()
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		a.metrics.WatchPools([]obs.Pool{{Name: name, DB: pools[name]}})
	}
	evs := events.NewService(db, events.Options{Flusher: events.FlusherOptions{MaxPending: int64(cfg.EventsMaxPending), Committers: cmp.Or(cfg.EventsCommitters, db.EventCommitters()),
		LogVersion: cfg.EventsLogVersion, Logger: log}})
	cat.Projects.OnCredentialsRevoked(evs.Keys.Forget)
	opts.Explorer = events.NewExplorer(db, nil)
	a.events = evs
	flushCtx, stopFlusher := context.WithCancel(context.Background())
	a.stopFlusher, a.flushed = stopFlusher, make(chan struct{})
	a.usesWritten = make(chan struct{})
	go func() { cat.TokenUses.Run(flushCtx, cfg.TokenUseInterval); close(a.usesWritten) }()
	go func() { evs.Flusher.Run(flushCtx); close(a.flushed) }()
	// The SDK protocols' paths are served beside the REST API, on the same
	// listener, without its access-token authentication or CORS policy:
	// the event endpoints, then the browser SDKs' goals, flag evaluation
	// and flag stream.
	ing := ingest.New(evs, ingest.Options{MaxBodyBytes: int64(cfg.EventsMaxBody), MaxInflight: cfg.EventsMaxInflight, Logger: log})
	browserMux := http.NewServeMux()
	browser := ingest.NewBrowser(evs.Keys, evs.Goals, ingest.BrowserOptions{Logger: log, RequestTimeout: cfg.RequestTimeout})
	browser.Register(browserMux)
	// Flag streams never go idle: shutdown ends them.
	a.server.RegisterOnShutdown(browser.Close)
	// The web UI answers its own paths (web.UI.Owns); the API keeps every
	// other, so that anything else still gets the API's JSON errors.
	rest := api.New(cat, opts)
	ui := web.New(cat, web.Options{Logger: log, Sessions: db, ParseMetricQuery: api.ParseMetricQuery, Explorer: opts.Explorer, Clock: cfg.Clock,
		SessionCacheTTL: cfg.AuthCacheTTL, RequestTimeout: cfg.RequestTimeout})
	uiHandler := ui.Handler()
	h := ing.Handler(ingest.Mount(browserMux, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ui.Owns(r.URL.Path) {
			uiHandler.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})))
	a.handler.Store(&h)
	return a, nil
}

// stopEvents commits what the flusher still holds and stops it; call it
// once the servers are drained.
func (a *App) stopEvents() {
	if a.stopFlusher != nil {
		a.stopFlusher()
		<-a.flushed
		<-a.usesWritten
	}
}

// rateObserver reports the rate limiter's decisions to the metrics.
type rateObserver struct{ m *obs.Metrics }

func (o rateObserver) Rejected(r ratelimit.Rejection) { o.m.RateLimited(string(r.Scope)) }
func (o rateObserver) CounterFailed(error)            { o.m.RateCounterFailed() }

// startServing serves the listeners in the background; their errors reach
// a.errc.
func (a *App) startServing() {
	go func() {
		if a.TLS() {
			// The certificate is in TLSConfig already.
			a.errc <- a.server.ServeTLS(a.ln, "", "")
			return
		}
		a.errc <- a.server.Serve(a.ln)
	}()
	if a.metricsServer != nil {
		go func() { a.errc <- a.metricsServer.Serve(a.metricsLn) }()
	}
}

// servers counts the servers startServing started.
func (a *App) servers() int {
	if a.metricsServer != nil {
		return 2
	}
	return 1
}

// stopServing shuts the servers down, draining requests for up to 20
// seconds, and waits for their Serve calls to return.
func (a *App) stopServing() error {
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := a.server.Shutdown(shutdownCtx)
	if a.metricsServer != nil {
		err = errors.Join(err, a.metricsServer.Shutdown(shutdownCtx))
	}
	for range a.servers() {
		if serveErr := <-a.errc; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
	}
	return err
}

// Addr is the address the server listens on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// MetricsAddr is the address of the metrics listener, nil without one.
func (a *App) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// TLS reports whether the server serves HTTPS.
// It is decided by the configuration, not read from the http.Server, whose
// TLSConfig net/http fills in itself (for HTTP/2) once Serve runs — which
// it does from Open on, for the start-up handler.
func (a *App) TLS() bool { return a.cfg.TLSCert != "" }

// Store is the app's store.
func (a *App) Store() *store.DB { return a.store }

// Metrics is the app's metrics registry.
func (a *App) Metrics() *obs.Metrics { return a.metrics }

// Serve answers requests until ctx is cancelled, then drains in-flight
// requests and closes the store. (Open started serving already.)
func (a *App) Serve(ctx context.Context) error {
	select {
	case err := <-a.errc:
		// A server stopped on its own: stop the other one too.
		a.errc <- err
		err = a.stopServing()
		a.stopEvents()
		return errors.Join(err, a.store.Close())
	case <-ctx.Done():
	}
	err := a.stopServing()
	a.stopEvents()
	return errors.Join(err, a.store.Close())
}

// Main runs metricsd with the process's arguments and environment. It
// returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "version" {
		return printVersion(args[1:], stdout, stderr)
	}
	cfg, err := ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "metricsd:", err)
		return 2
	}
	// Any package that logs with a request's context names the request.
	log := slog.New(api.LogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
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
	attrs := []any{"addr", a.Addr().String(), "scheme", scheme, "database", RedactDSN(cfg.DatabaseURL), "version", version.Read().String()}
	if m := a.MetricsAddr(); m != nil {
		attrs = append(attrs, "metrics_addr", m.String())
	}
	log.Info("metricsd listening", attrs...)
	if err := a.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("metricsd stopped")
	return 0
}

// printVersion writes the build's version, its VCS revision and whether the
// work tree was modified, and the Go toolchain.
func printVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "metricsd: unexpected argument %q; usage: metricsd version\n", args[0])
		return 2
	}
	v := version.Read()
	fmt.Fprintf(stdout, "metricsd %s\n", v)
	if v.Revision != "" {
		fmt.Fprintf(stdout, "revision %s", v.Revision)
		if v.Modified {
			fmt.Fprint(stdout, " (modified)")
		}
		fmt.Fprintln(stdout)
	}
	if v.GoVersion != "" {
		fmt.Fprintf(stdout, "go %s\n", strings.TrimPrefix(v.GoVersion, "go"))
	}
	return 0
}
