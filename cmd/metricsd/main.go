// Command metricsd serves a metrics catalog that speaks LaunchDarkly's REST
// API v2 for metrics. With no arguments it serves; see --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/metricsd/metricsd/internal/app"
)

func main() {
	app.SetMemoryLimit(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
