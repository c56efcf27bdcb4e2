package api

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per key (a client, or a client and an
// account), spent by failures only: a key that keeps failing is slowed to
// rate per second after a burst, while successes cost nothing.
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

// spend takes one token from key's bucket if it has one. If it has none it
// reports false and how long until it will have one, for Retry-After.
func (l *limiter) spend(key string) (bool, time.Duration) {
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
		return false, time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	}
	b.tokens--
	return true, 0
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
// cycling addresses or accounts, must not grow it without bound.
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
