package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript is baseline (c): one atomic Lua decrement of a counter,
// refusing when it would go below zero. Nothing durable is written.
var takeScript = redis.NewScript(`
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local q = tonumber(ARGV[1])
if v < q then return -1 end
return redis.call('DECRBY', KEYS[1], q)
`)

// redisBaseline is baseline (c), Redis only: the upper reference for an
// admission counter, with no database behind it.
type redisBaseline struct {
	rdb    *redis.Client
	prefix string

	mu      sync.Mutex
	keys    []string        // counters to delete at the end
	initial map[int64]int64 // units each counter started with
}

// openRedisBaseline connects to Redis at addr, or reports why it cannot.
func openRedisBaseline(ctx context.Context, addr string, pool int) (*redisBaseline, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: pool, MinIdleConns: min(pool, 16),
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("bench: redis at %s does not answer: %w", addr, err)
	}
	return &redisBaseline{rdb: rdb, prefix: "faka-bench:" + randomToken()[:12] + ":", initial: map[int64]int64{}}, nil
}

func (b *redisBaseline) name() string { return "redis" }

func (b *redisBaseline) note() string {
	return "(c) Redis only: a Lua decrement on the local Redis per request, nothing durable — the upper reference for the admission counter"
}

func (b *redisBaseline) prepare(ctx context.Context, keys int) (int64, error) {
	b.mu.Lock()
	id := int64(len(b.keys) + 1)
	key := b.key(id)
	b.keys = append(b.keys, key)
	b.initial[id] = int64(keys)
	b.mu.Unlock()
	if err := b.rdb.Set(ctx, key, keys, time.Hour).Err(); err != nil {
		return 0, fmt.Errorf("bench: redis: set stock: %w", err)
	}
	return id, nil
}

func (b *redisBaseline) key(id int64) string { return fmt.Sprintf("%sstock:%d", b.prefix, id) }

func (b *redisBaseline) reserve(ctx context.Context, productID int64, q int, _ *baselineOrder) error {
	left, err := takeScript.Run(ctx, b.rdb, []string{b.key(productID)}, q).Int64()
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if left < 0 {
		return errSoldOut
	}
	return nil
}

// taken reads the counter back; Redis keeps no orders, so a double sale
// cannot be seen here beyond the counter going below zero.
func (b *redisBaseline) taken(ctx context.Context, productID int64) (int, int, error) {
	left, err := b.rdb.Get(ctx, b.key(productID)).Int64()
	if err != nil {
		return 0, 0, fmt.Errorf("bench: redis: read stock: %w", err)
	}
	b.mu.Lock()
	initial := b.initial[productID]
	b.mu.Unlock()
	return int(initial - left), 0, nil
}

// close deletes the counters and closes the client.
func (b *redisBaseline) close() error {
	b.mu.Lock()
	keys := b.keys
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if len(keys) > 0 {
		_ = b.rdb.Del(ctx, keys...).Err()
	}
	return b.rdb.Close()
}
