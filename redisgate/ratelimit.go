package redisgate

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RateLimiter limits events per key across every instance sharing one
// Redis (GCRA, through redis_rate).
type RateLimiter struct {
	lim    *redis_rate.Limiter
	prefix string
}

// NewRateLimiter returns a shared limiter; keys are prefixed with prefix.
func NewRateLimiter(rdb redis.UniversalClient, prefix string) *RateLimiter {
	return &RateLimiter{lim: redis_rate.NewLimiter(rdb), prefix: prefix}
}

// Allow takes one event for key under a limit of perMinute events a
// minute (bursts up to the same number). It returns how long to wait when
// the event is refused.
func (r *RateLimiter) Allow(ctx context.Context, key string, perMinute int) (time.Duration, bool, error) {
	res, err := r.lim.Allow(ctx, r.prefix+key, redis_rate.PerMinute(perMinute))
	if err != nil {
		return 0, false, fmt.Errorf("redisgate: rate limit: %w", err)
	}
	return res.RetryAfter, res.Allowed > 0, nil
}
