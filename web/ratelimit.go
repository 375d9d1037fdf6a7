package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter sizing. An idle entry is dropped once its bucket would be full
// again, which makes eviction lossless: a fresh limiter is the same.
const (
	maxLimiterEntries = 100_000
	sweepEvery        = time.Minute
)

// limiter is a per-key token bucket: perMinute events a minute, in bursts
// of up to perMinute. Its map holds only keys seen within the last refill
// period and at most maxLimiterEntries of them. A nil *limiter allows
// everything.
type limiter struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	idle      time.Duration // time to refill an empty bucket
	entries   map[string]*limiterEntry
	lastSweep time.Time
	now       func() time.Time

	// shared, when set, counts events across every instance (Redis); the
	// in-process buckets take over while it fails.
	shared     SharedLimiter
	sharedName string
	perMinute  int
	log        *slog.Logger
	lastWarn   time.Time // guarded by mu
}

// SharedLimiter is a rate limiter shared by every instance, such as
// redisgate.RateLimiter.
type SharedLimiter interface {
	Allow(ctx context.Context, key string, perMinute int) (time.Duration, bool, error)
}

// warnShared logs a shared-limiter failure at most once a minute: while
// Redis is down every order would otherwise log one.
func (l *limiter) warnShared(err error) {
	now := time.Now()
	l.mu.Lock()
	quiet := now.Sub(l.lastWarn) < time.Minute
	if !quiet {
		l.lastWarn = now
	}
	l.mu.Unlock()
	if !quiet {
		l.log.Warn("web: shared rate limit unavailable; limiting in process", "err", err)
	}
}

// share makes l count through a shared limiter under name.
func (l *limiter) share(sl SharedLimiter, name string, log *slog.Logger) {
	if l != nil {
		l.shared, l.sharedName, l.log = sl, name, log
	}
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{
		perMinute: perMinute,
		limit:     rate.Limit(float64(perMinute) / 60),
		burst:     perMinute,
		idle:      time.Minute,
		entries:   make(map[string]*limiterEntry),
		now:       time.Now,
	}
}

// allow takes one event for key. When the key is over its limit it
// returns false and how long until the next event would be allowed.
func (l *limiter) allow(key string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		wait, ok, err := l.shared.Allow(ctx, l.sharedName+":"+key, l.perMinute)
		cancel()
		if err == nil {
			return wait, ok
		}
		l.warnShared(err)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery || len(l.entries) >= maxLimiterEntries {
		l.sweep(now)
	}
	e := l.entries[key]
	if e == nil {
		if len(l.entries) >= maxLimiterEntries {
			// Too many clients at once: refuse newcomers rather than let
			// the map grow without bound or the limit lapse.
			return l.idle, false
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.entries[key] = e
	}
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep drops the entries idle long enough to have refilled.
func (l *limiter) sweep(now time.Time) {
	for k, e := range l.entries {
		if now.Sub(e.last) >= l.idle {
			delete(l.entries, k)
		}
	}
	l.lastSweep = now
}

// size returns the number of keys held.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
