package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// defaultRedisPrefix begins every key faka keeps in Redis.
const defaultRedisPrefix = "faka:"

// redisOptions parses FAKA_REDIS_URL. Besides what go-redis reads, it takes
// key_prefix (default "faka:"), which begins every key faka writes: shops
// or test runs that share one Redis database keep apart by it.
func redisOptions(raw string) (*redis.Options, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("FAKA_REDIS_URL: %w", err)
	}
	q := u.Query()
	prefix := defaultRedisPrefix
	if q.Has("key_prefix") {
		prefix = q.Get("key_prefix")
		if prefix == "" || len(prefix) > 64 || strings.ContainsFunc(prefix, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, "", fmt.Errorf("FAKA_REDIS_URL: key_prefix must be 1–64 printable characters without spaces, got %q", prefix)
		}
		q.Del("key_prefix")
		u.RawQuery = q.Encode()
	}
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("FAKA_REDIS_URL: %w", err)
	}
	return opt, prefix, nil
}
