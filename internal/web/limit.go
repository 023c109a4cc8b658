package web

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failLimiter limits failed sign-ins per client address, as the API limits
// failed authentications: an address that used up its budget of failures
// gets 429 on every sign-in until the budget refills, and the store is not
// asked.
type failLimiter struct {
	burst int
	every rate.Limit
	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

const (
	failWindow      = time.Minute
	maxTrackedAddrs = 10000
)

func newFailLimiter(perWindow int) *failLimiter {
	if perWindow < 0 {
		return nil
	}
	if perWindow == 0 {
		perWindow = DefaultSignInFailures
	}
	return &failLimiter{burst: perWindow, every: rate.Limit(float64(perWindow) / failWindow.Seconds()), addrs: map[string]*rate.Limiter{}}
}

// blocked reports whether addr has no failure left, and when it has one
// again.
func (l *failLimiter) blocked(addr string) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	lim := l.addrs[addr]
	l.mu.Unlock()
	if lim == nil {
		return false, 0
	}
	tokens := lim.Tokens()
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
}

// fail spends one failure of addr.
func (l *failLimiter) fail(addr string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.addrs[addr]
	if lim == nil {
		if len(l.addrs) >= maxTrackedAddrs {
			for a, x := range l.addrs {
				if x.Tokens() >= float64(l.burst) {
					delete(l.addrs, a)
				}
			}
			if len(l.addrs) >= maxTrackedAddrs {
				clear(l.addrs)
			}
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.addrs[addr] = lim
	}
	lim.Allow()
}

// clientAddr is the address failures count against: the connection's
// remote host (X-Forwarded-For is not trusted), for IPv6 its /64.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
