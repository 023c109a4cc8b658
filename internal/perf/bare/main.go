// Command bare serves one file's bytes as application/json on every
// request, through nothing but net/http: the ceiling the performance notes
// (docs/PERFORMANCE.md) compare metricsd's GET of one metric against.
//
//	go run ./internal/perf/bare -addr 127.0.0.1:18090 -body /tmp/metric.json
//
// With -headers (a response's header block as curl -D writes it) it sends
// those headers too, values as they are, except Date, which net/http writes
// itself: then its responses carry the same header lines as the response
// captured, set one by one per request as any handler sets them, so that
// the comparison does not charge metricsd for net/http's cost of its headers.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	path := flag.String("body", "", "file whose bytes every response carries")
	headers := flag.String("headers", "", "file of response headers (curl -D) every response carries; default Content-Type only")
	flag.Parse()
	body, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	type field struct{ name, value string }
	fields := []field{{"Content-Type", "application/json"}}
	if *headers != "" {
		raw, err := os.ReadFile(*headers)
		if err != nil {
			log.Fatal(err)
		}
		fields = fields[:0]
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for first := true; sc.Scan(); first = false {
			line := strings.TrimRight(sc.Text(), "\r")
			name, value, ok := strings.Cut(line, ":")
			if first || !ok || strings.EqualFold(name, "Date") {
				continue // the status line, the blank line, Date
			}
			fields = append(fields, field{name, strings.TrimSpace(value)})
		}
	}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fields {
			h.Set(f.name, f.value)
		}
		_, _ = w.Write(body)
	})))
}
