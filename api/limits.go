package api

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
	"golang.org/x/time/rate"
)

// Limits bound what one client may ask of the service. Zero fields take
// the defaults; rate.Inf lifts a rate limit.
type Limits struct {
	CredentialRate  rate.Limit // requests a second per token (by its ID); default 20
	CredentialBurst int        // default 100
	AnonymousRate   rate.Limit // requests a second per client address that present no valid token (and to /healthz, /metrics); default 5
	AnonymousBurst  int        // default 20
	Cosigns         int        // co-signatures computed at once (each rebuilds an attestation); default 2
}

func (l Limits) withDefaults() Limits {
	if l.CredentialRate == 0 {
		l.CredentialRate = 20
	}
	if l.CredentialBurst == 0 {
		l.CredentialBurst = 100
	}
	if l.AnonymousRate == 0 {
		l.AnonymousRate = 5
	}
	if l.AnonymousBurst == 0 {
		l.AnonymousBurst = 20
	}
	if l.Cosigns == 0 {
		l.Cosigns = 2
	}
	return l
}

// limits are the service's rate limiters.
type limits struct {
	credential *limiterSet
	anonymous  *limiterSet
}

func newLimits(l Limits) *limits {
	return &limits{credential: newLimiterSet(l.CredentialRate, l.CredentialBurst), anonymous: newLimiterSet(l.AnonymousRate, l.AnonymousBurst)}
}

// maxLimiters bounds how many keys a limiterSet remembers.
const maxLimiters = 100_000

// limiterSet is a token bucket per key (a token ID or a client address),
// at most maxLimiters of them.
type limiterSet struct {
	r     rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiterSet(r rate.Limit, burst int) *limiterSet {
	return &limiterSet{r: r, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes one request from key's bucket, or says how long to wait.
// When the set is full it forgets the buckets that have refilled (they
// are the same as new ones); if none has, a new key is refused for a
// second rather than let memory grow.
func (s *limiterSet) allow(key string) (time.Duration, bool) {
	if s.r == rate.Inf {
		return 0, true
	}
	now := time.Now()
	s.mu.Lock()
	lim, ok := s.m[key]
	if !ok {
		if len(s.m) >= maxLimiters {
			for k, l := range s.m {
				if l.TokensAt(now) >= float64(s.burst) {
					delete(s.m, k)
				}
			}
		}
		if len(s.m) >= maxLimiters {
			s.mu.Unlock()
			return time.Second, false
		}
		lim = rate.NewLimiter(s.r, s.burst)
		s.m[key] = lim
	}
	s.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// addressKey is the client's address as the limiters key it: the
// connection's peer (forwarding headers are not trusted), IPv6 by /64.
func addressKey(c *gin.Context) string {
	a, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return c.RemoteIP()
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// statusError is an error answered with its own HTTP status instead of
// its code's (405, 429), and with a Retry-After when set.
type statusError struct {
	status     int
	retryAfter time.Duration
	err        *greenmint.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// tooMany is the answer to a request over a limit: 429 with Retry-After
// in whole seconds (at least 1). Its code is unavailable: try again later.
func tooMany(wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &statusError{status: 429, retryAfter: time.Duration(secs) * time.Second,
		err: greenmint.Errorf(greenmint.EUNAVAILABLE, "too many requests; retry after %s s", strconv.Itoa(secs))}
}

// anonymousLimit limits requests that present no credential, by client
// address.
func (l *limits) anonymousLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		if wait, ok := l.anonymous.allow(addressKey(c)); !ok {
			fail(c, tooMany(wait))
			return
		}
		c.Next()
	}
}

// semaphore caps how many requests run a costly step at once.
type semaphore chan struct{}

// tryAcquire takes a slot if one is free.
func (s semaphore) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s semaphore) release() { <-s }
