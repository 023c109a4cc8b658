// Package app wires metricsd together: configuration, store, catalog,
// HTTP server and graceful shutdown. cmd/metricsd and the end-to-end tests
// both start the service through it.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/metricsd/metricsd/internal/api"
	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/store"
)

// Config is the start-up configuration.
type Config struct {
	Addr         string
	DatabaseURL  string
	AdminToken   string
	AuthCacheTTL time.Duration
	RateLimit    int
	LogLevel     slog.Level
	// RequestTimeout bounds an API request; 0 means api.DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// ParseConfig reads flags with environment fallbacks: --addr/METRICSD_ADDR,
// --database/METRICSD_DATABASE_URL, METRICSD_ADMIN_TOKEN.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("metricsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{}
	def := func(env, fallback string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&cfg.Addr, "addr", def("METRICSD_ADDR", ":8080"), "listen address (env METRICSD_ADDR)")
	fs.StringVar(&cfg.DatabaseURL, "database", def("METRICSD_DATABASE_URL", "sqlite:metricsd.db"), "database URL: sqlite:PATH or postgres://... (env METRICSD_DATABASE_URL)")
	fs.DurationVar(&cfg.AuthCacheTTL, "auth-cache-ttl", 2*time.Second, "how long a verified token is trusted before the store is asked again")
	rateLimit := fs.String("rate-limit", def("METRICSD_RATE_LIMIT", "0"), "authenticated API requests served per 10 seconds before 429, per replica; 0 for no limit (env METRICSD_RATE_LIMIT)")
	timeout := fs.String("request-timeout", def("METRICSD_REQUEST_TIMEOUT", api.DefaultRequestTimeout.String()), "longest an API request may take, database calls included, before 503 (env METRICSD_REQUEST_TIMEOUT)")
	level := fs.String("log-level", def("METRICSD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env METRICSD_LOG_LEVEL)")
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; usage: metricsd [serve] [flags]", fs.Arg(0))
	}
	n, err := strconv.Atoi(*rateLimit)
	if err != nil || n < 0 {
		return cfg, fmt.Errorf("--rate-limit must be a non-negative integer, not %q", *rateLimit)
	}
	cfg.RateLimit = n
	if cfg.RequestTimeout, err = time.ParseDuration(*timeout); err != nil || cfg.RequestTimeout <= 0 {
		return cfg, fmt.Errorf("--request-timeout must be a positive duration such as 10s, not %q", *timeout)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.AdminToken = getenv("METRICSD_ADMIN_TOKEN")
	return cfg, nil
}

// App is a running metricsd.
type App struct {
	cfg    Config
	log    *slog.Logger
	store  *store.DB
	server *http.Server
	ln     net.Listener
	// AdminToken is the token generated for a fresh database, empty if none.
	AdminToken string
}

// Open connects the store, applies migrations, seeds a fresh database and
// binds the listener.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	cat := catalog.New(db)
	generated, err := cat.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, err
	}
	srv := api.New(cat, api.Options{Logger: log, AuthCacheTTL: cfg.AuthCacheTTL, RateLimit: cfg.RateLimit, RequestTimeout: cfg.RequestTimeout})
	a := &App{cfg: cfg, log: log, store: db, ln: ln, AdminToken: generated}
	a.server = &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// Addr is the address the server listens on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// Store is the app's store.
func (a *App) Store() *store.DB { return a.store }

// Serve answers requests until ctx is cancelled, then drains in-flight
// requests and closes the store.
func (a *App) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(a.ln) }()
	select {
	case err := <-errc:
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
	log.Info("metricsd listening", "addr", a.Addr().String(), "database", redact(cfg.DatabaseURL))
	if err := a.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("metricsd stopped")
	return 0
}

// redact hides a password in a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
