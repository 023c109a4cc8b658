package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

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
