package api

import (
	"sync"
	"time"
)

// limiter is a token bucket per client address, spent by failures only:
// a client that keeps failing to sign in or to present a valid token is
// slowed to rate per second after a burst, while one that succeeds is
// never held back.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens added per second
	burst   float64 // bucket size
	now     func() time.Time
	buckets map[string]*bucket
	// sweepAt is the number of buckets past which full ones are dropped;
	// it grows with the map so that sweeping stays amortised O(1).
	sweepAt int
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

const minSweep = 1024

func newLimiter(rate, burst float64, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: burst, now: now, buckets: map[string]*bucket{}, sweepAt: minSweep}
}

// refill brings b up to date at now.
func (l *limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.at = now
}

// allow reports whether key may fail once more, spending nothing.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true // an absent bucket is a full one
	}
	l.refill(b, l.now())
	return b.tokens >= 1
}

// spend takes one token from key's bucket if it has one, and reports
// whether it had.
func (l *limiter) spend(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		l.sweep(now)
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund gives back a token spent on an attempt that did not fail.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		l.refill(b, l.now())
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// sweep drops full buckets, which are the same as absent ones, once the
// map has grown past sweepAt: clients that come and go, or an attacker
// cycling addresses, must not grow it without bound.
func (l *limiter) sweep(now time.Time) {
	if len(l.buckets) < l.sweepAt {
		return
	}
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.buckets))
}
