// Package redisgate is the admission gate's counter shared by several faka
// instances through Redis (engine.Counter): one hash per product holding
// the units believed available ("v") and an epoch ("e") that every Add
// advances. Each operation is one Lua script, atomic in Redis.
//
// Redis decides nothing: it only turns buyers away early. After a FLUSHALL
// or a restart the figures are gone and the engine seeds them again from
// the database; while Redis is down the engine falls back to an in-process
// counter.
package redisgate

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/faka-dev/faka/engine"
)

// Counter is an engine.Counter on Redis.
type Counter struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ engine.Counter = (*Counter)(nil)

// New returns a Counter on rdb; keys are prefix + product ID.
func New(rdb redis.UniversalClient, prefix string) *Counter {
	if prefix == "" {
		prefix = "faka:gate:"
	}
	return &Counter{rdb: rdb, prefix: prefix}
}

// Open connects to a redis:// URL and checks that it answers.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisgate: parse URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redisgate: ping %s: %w", opt.Addr, err)
	}
	return rdb, nil
}

func (c *Counter) key(productID int64) string { return c.prefix + strconv.FormatInt(productID, 10) }

// take: -1 when there is no figure, 1 when admitted, 0 when short.
var take = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
local n = tonumber(ARGV[1])
if tonumber(v) >= n then
  redis.call('HINCRBY', KEYS[1], 'v', -n)
  return 1
end
return 0`)

var seed = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then
  redis.call('HSET', KEYS[1], 'v', math.max(0, tonumber(ARGV[1])))
end
return 1`)

var add = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'e', 1)
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 0 end
redis.call('HSET', KEYS[1], 'v', math.max(0, tonumber(v) + tonumber(ARGV[1])))
return 1`)

var sync = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e') or '0'
if e ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'v', math.max(0, tonumber(ARGV[1])))
return 1`)

// Take implements engine.Counter.
func (c *Counter) Take(ctx context.Context, productID, n int64) (bool, bool, error) {
	r, err := take.Run(ctx, c.rdb, []string{c.key(productID)}, n).Int64()
	if err != nil {
		return false, false, fmt.Errorf("redisgate: take: %w", err)
	}
	return r == 1, r >= 0, nil
}

// Seed implements engine.Counter.
func (c *Counter) Seed(ctx context.Context, productID, value int64) error {
	if err := seed.Run(ctx, c.rdb, []string{c.key(productID)}, value).Err(); err != nil {
		return fmt.Errorf("redisgate: seed: %w", err)
	}
	return nil
}

// Add implements engine.Counter.
func (c *Counter) Add(ctx context.Context, productID, n int64) error {
	if err := add.Run(ctx, c.rdb, []string{c.key(productID)}, n).Err(); err != nil {
		return fmt.Errorf("redisgate: add: %w", err)
	}
	return nil
}

// Epoch implements engine.Counter.
func (c *Counter) Epoch(ctx context.Context, productID int64) (uint64, error) {
	e, err := c.rdb.HGet(ctx, c.key(productID), "e").Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redisgate: epoch: %w", err)
	}
	return e, nil
}

// Sync implements engine.Counter.
func (c *Counter) Sync(ctx context.Context, productID, value int64, epoch uint64) (bool, error) {
	r, err := sync.Run(ctx, c.rdb, []string{c.key(productID)}, value, strconv.FormatUint(epoch, 10)).Int64()
	if err != nil {
		return false, fmt.Errorf("redisgate: sync: %w", err)
	}
	return r == 1, nil
}

// Value implements engine.Counter.
func (c *Counter) Value(ctx context.Context, productID int64) (int64, bool, error) {
	v, err := c.rdb.HGet(ctx, c.key(productID), "v").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("redisgate: value: %w", err)
	}
	return v, true, nil
}
