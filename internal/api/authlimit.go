package api

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/core"
	"golang.org/x/time/rate"
)

// Failed authentication is limited per client address: a client that
// presented authFailWindow's worth of wrong tokens gets 429 for every API
// request until its budget refills, whatever token it sends, and the store
// is not asked. A valid token from that address waits too, so a blocked
// address cannot keep testing guesses.
const (
	// DefaultAuthFailureLimit is the number of failed authentications an
	// address may make per authFailWindow.
	DefaultAuthFailureLimit = 10
	authFailWindow          = time.Minute
	// maxTrackedAddrs bounds the memory of the limiter.
	maxTrackedAddrs = 10000
)

type authFailLimiter struct {
	burst int
	every rate.Limit
	mu    sync.Mutex
	addrs map[string]*addrBudget
}

type addrBudget struct {
	lim  *rate.Limiter
	seen time.Time
}

// newAuthFailLimiter returns nil, no limit, when perWindow is negative; 0
// means DefaultAuthFailureLimit.
func newAuthFailLimiter(perWindow int) *authFailLimiter {
	if perWindow < 0 {
		return nil
	}
	if perWindow == 0 {
		perWindow = DefaultAuthFailureLimit
	}
	return &authFailLimiter{burst: perWindow, every: rate.Limit(float64(perWindow) / authFailWindow.Seconds()), addrs: map[string]*addrBudget{}}
}

// check answers KindRateLimited, with Retry-After and X-Ratelimit-Reset,
// when addr has no failed authentication left in its budget.
func (l *authFailLimiter) check(w http.ResponseWriter, addr string) error {
	if l == nil {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	b := l.addrs[addr]
	l.mu.Unlock()
	if b == nil {
		return nil
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return nil
	}
	wait := time.Duration((1 - tokens) / float64(l.every) * float64(time.Second))
	full := now.Add(time.Duration((float64(l.burst) - tokens) / float64(l.every) * float64(time.Second)))
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(full.UnixMilli(), 10))
	return core.Errorf(kindRateLimited, "too many failed authentications from this address (more than %d per %s); retry after the time in Retry-After", l.burst, authFailWindow)
}

// fail spends one failed authentication of addr.
func (l *authFailLimiter) fail(addr string) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.addrs[addr]
	if b == nil {
		if len(l.addrs) >= maxTrackedAddrs {
			l.evict(now)
		}
		b = &addrBudget{lim: rate.NewLimiter(l.every, l.burst)}
		l.addrs[addr] = b
	}
	b.seen = now
	b.lim.AllowN(now, 1)
}

// evict drops the addresses whose budget has refilled, which loses nothing,
// and if that is not enough, arbitrary others. l.mu is held.
func (l *authFailLimiter) evict(now time.Time) {
	for a, b := range l.addrs {
		if now.Sub(b.seen) >= authFailWindow {
			delete(l.addrs, a)
		}
	}
	for a := range l.addrs {
		if len(l.addrs) < maxTrackedAddrs*9/10 {
			break
		}
		delete(l.addrs, a)
	}
}

// clientAddr is the address failures are counted against: the host of the
// connection's remote address (X-Forwarded-For is not trusted), and for
// IPv6 its /64 network, which one client usually has whole.
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
