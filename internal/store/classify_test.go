package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/metricsd/metricsd/internal/core"
)

// TestClassifyLostConnection: a connection that fails under a statement is
// "unavailable" (503, retry), never an internal error; a cancelled or timed
// out context is left for the transport to judge.
func TestClassifyLostConnection(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), core.ErrUnavailable},
		{driver.ErrBadConn, core.ErrUnavailable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, core.ErrUnavailable},
		{fmt.Errorf("write: %w", net.ErrClosed), core.ErrUnavailable},
		{context.DeadlineExceeded, nil},
		{context.Canceled, nil},
	} {
		got := classify(tt.err)
		if tt.want == nil {
			if errors.Is(got, core.ErrUnavailable) {
				t.Errorf("classify(%v) = %v, want it left alone", tt.err, got)
			}
			continue
		}
		if !errors.Is(got, tt.want) {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestExhaustedRetries: a deadlock or serialization failure that outlasts
// the retries is a conflict the client may retry, never an internal error.
func TestExhaustedRetries(t *testing.T) {
	for _, code := range []string{"40001", "40P01"} {
		err := &pgconn.PgError{Code: code}
		if !retryable(err) {
			t.Errorf("%s is not retryable", code)
		}
		if got := core.KindOf(exhausted(err)); got != core.KindConflict {
			t.Errorf("exhausted %s: kind %v, want conflict", code, got)
		}
	}
}
