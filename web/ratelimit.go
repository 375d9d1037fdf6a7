package web

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter sizing. An idle entry is dropped once its bucket would be full
// again, which makes eviction lossless: a fresh limiter is the same.
// While the map is full, a full sweep runs at most every fullSweepEvery,
// so a flood of newcomers does not scan the map on every request.
const (
	maxLimiterEntries = 100_000
	overflowBuckets   = 4096
	sweepEvery        = time.Minute
	fullSweepEvery    = time.Second
)

// limiter is a per-key token bucket: perMinute events a minute, in bursts
// of up to perMinute. Its map holds only keys seen within the last refill
// period and at most maxLimiterEntries of them; its memory is that map and
// overflowBuckets more buckets, whatever the traffic. A key that finds the
// map full is counted in the overflow bucket its keyed hash picks, shared
// with the other newcomers that hash there: under a flood of distinct
// clients the limit gets stricter for newcomers, and nobody is refused for
// the mere reason that others came first. A nil *limiter allows
// everything.
type limiter struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	idle      time.Duration // time to refill an empty bucket
	entries   map[string]*limiterEntry
	overflow  []*rate.Limiter // made when first needed
	seed      maphash.Seed    // per limiter: nobody can aim keys at one bucket
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
		seed:      maphash.MakeSeed(),
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
	full := len(l.entries) >= maxLimiterEntries
	if since := now.Sub(l.lastSweep); since >= sweepEvery || full && since >= fullSweepEvery {
		l.sweep(now)
	}
	var lim *rate.Limiter
	if e := l.entries[key]; e != nil {
		e.last = now
		lim = e.lim
	} else if len(l.entries) < maxLimiterEntries {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.entries[key] = &limiterEntry{lim: lim, last: now}
	} else {
		lim = l.overflowFor(key)
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// blocked reports whether key's next event would be refused, without
// taking one, and how long until it would not be. It looks at the
// in-process buckets only.
func (l *limiter) blocked(key string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if e := l.entries[key]; e != nil {
		lim = e.lim
	} else if len(l.entries) >= maxLimiterEntries {
		lim = l.overflowFor(key)
	} else {
		return 0, false
	}
	if t := lim.TokensAt(now); t < 1 {
		return time.Duration((1 - t) / float64(l.limit) * float64(time.Second)), true
	}
	return 0, false
}

// overflowFor returns the shared bucket of a key that finds the map full.
func (l *limiter) overflowFor(key string) *rate.Limiter {
	if l.overflow == nil {
		l.overflow = make([]*rate.Limiter, overflowBuckets)
		for i := range l.overflow {
			l.overflow[i] = rate.NewLimiter(l.limit, l.burst)
		}
	}
	return l.overflow[maphash.String(l.seed, key)%overflowBuckets]
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
