// Command bare serves one file's bytes as application/json on every
// request, through nothing but net/http: the ceiling the performance notes
// (docs/PERFORMANCE.md) compare metricsd's GET of one metric against.
//
//	go run ./internal/perf/bare -addr 127.0.0.1:18090 -body /tmp/metric.json
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	path := flag.String("body", "", "file whose bytes every response carries")
	flag.Parse()
	body, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})))
}
