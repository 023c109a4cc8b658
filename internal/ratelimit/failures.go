package ratelimit

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// FailWindow is the window a Failures budget refills over.
const FailWindow = time.Minute

// maxFailAddrs bounds the memory of a Failures.
const maxFailAddrs = 10000

// Failures limits failed attempts (wrong API tokens, failed web sign-ins)
// per client address: an address that spent its budget of failures is
// blocked until the budget refills, continuously over FailWindow. Unlike
// the request windows it is a token bucket, since it reports no window end,
// only how long to wait. A nil *Failures limits nothing.
type Failures struct {
	burst int
	every rate.Limit
	mu    sync.Mutex
	addrs map[string]*failBudget
}

type failBudget struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewFailures returns a limit of perWindow failures per FailWindow and
// address: nil, no limit, when perWindow is negative, and def failures
// when it is 0.
func NewFailures(perWindow, def int) *Failures {
	if perWindow < 0 {
		return nil
	}
	if perWindow == 0 {
		perWindow = def
	}
	return &Failures{burst: perWindow, every: rate.Limit(float64(perWindow) / FailWindow.Seconds()), addrs: map[string]*failBudget{}}
}

// Limit is the number of failures an address may make per FailWindow.
func (l *Failures) Limit() int {
	if l == nil {
		return 0
	}
	return l.burst
}

// Blocked reports whether addr has no failure left at now; if so, wait is
// how long until it has one again and full when its whole budget is back.
func (l *Failures) Blocked(addr string, now time.Time) (blocked bool, wait time.Duration, full time.Time) {
	if l == nil {
		return false, 0, time.Time{}
	}
	l.mu.Lock()
	b := l.addrs[addr]
	l.mu.Unlock()
	if b == nil {
		return false, 0, time.Time{}
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0, time.Time{}
	}
	wait = time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
	full = now.Add(time.Duration((float64(l.burst) - tokens) / float64(l.every) * float64(time.Second)))
	return true, wait, full
}

// Fail spends one failure of addr at now.
func (l *Failures) Fail(addr string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.addrs[addr]
	if b == nil {
		if len(l.addrs) >= maxFailAddrs {
			l.evict(now)
		}
		b = &failBudget{lim: rate.NewLimiter(l.every, l.burst)}
		l.addrs[addr] = b
	}
	b.seen = now
	b.lim.AllowN(now, 1)
}

// evict drops the addresses whose budget has refilled, which loses nothing,
// and if that is not enough, arbitrary others. l.mu is held.
func (l *Failures) evict(now time.Time) {
	for a, b := range l.addrs {
		if now.Sub(b.seen) >= FailWindow {
			delete(l.addrs, a)
		}
	}
	for a := range l.addrs {
		if len(l.addrs) < maxFailAddrs*9/10 {
			break
		}
		delete(l.addrs, a)
	}
}

// ClientAddr is the address failures and requests are counted against,
// given a request's RemoteAddr: its host (X-Forwarded-For is not trusted),
// and for IPv6 its /64 network, which one client usually has whole.
func ClientAddr(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip.Is4() {
		// ParseAddr takes dotted decimal only in its canonical form (no
		// leading zeros), which is what String would write again.
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
