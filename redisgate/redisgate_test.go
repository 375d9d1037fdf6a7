package redisgate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/redisgate"
	"github.com/faka-dev/faka/sqlite"
)

// client connects to FAKA_TEST_REDIS_URL. Without it the tests skip,
// unless FAKA_REQUIRE_REDIS=1 (as in CI) makes them fail.
func client(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("FAKA_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_REDIS") == "1" {
			t.Fatal("FAKA_REQUIRE_REDIS=1 but FAKA_TEST_REDIS_URL is not set")
		}
		t.Skip("FAKA_TEST_REDIS_URL is not set; Redis tests skipped")
	}
	rdb, err := redisgate.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// prefix gives each test keys of its own, so tests run in parallel.
func prefix(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	p := "faka:test:" + hex.EncodeToString(b) + ":"
	return p
}

// flush deletes a test's keys, as FLUSHALL would.
func flush(t *testing.T, rdb *redis.Client, prefix string) {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := rdb.Del(context.Background(), keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCounterSemantics(t *testing.T) {
	t.Parallel()
	rdb := client(t)
	p := prefix(t)
	t.Cleanup(func() { flush(t, rdb, p) })
	c := redisgate.New(rdb, p)
	ctx := context.Background()

	if ok, loaded, err := c.Take(ctx, 1, 1); err != nil || ok || loaded {
		t.Fatalf("take on empty: %v %v %v", ok, loaded, err)
	}
	c.Seed(ctx, 1, 5)
	c.Seed(ctx, 1, 100) // a second seed does not overwrite
	if v, loaded, _ := c.Value(ctx, 1); v != 5 || !loaded {
		t.Fatalf("value = %d %v", v, loaded)
	}
	if ok, _, _ := c.Take(ctx, 1, 6); ok {
		t.Fatal("took 6 of 5")
	}
	if ok, _, _ := c.Take(ctx, 1, 5); !ok {
		t.Fatal("could not take 5 of 5")
	}
	e, _ := c.Epoch(ctx, 1)
	c.Add(ctx, 1, 2)
	if done, _ := c.Sync(ctx, 1, 50, e); done {
		t.Fatal("sync with a stale epoch overwrote an add")
	}
	e, _ = c.Epoch(ctx, 1)
	if done, _ := c.Sync(ctx, 1, 3, e); !done {
		t.Fatal("sync with the current epoch refused")
	}
	c.Add(ctx, 1, -10)
	if v, _, _ := c.Value(ctx, 1); v != 0 {
		t.Fatalf("value after removing more than there was = %d, want 0", v)
	}
}

// TestConcurrentTakesNeverExceedSeed: many clients taking at once admit
// exactly the seeded units.
func TestConcurrentTakesNeverExceedSeed(t *testing.T) {
	t.Parallel()
	rdb := client(t)
	p := prefix(t)
	t.Cleanup(func() { flush(t, rdb, p) })
	c := redisgate.New(rdb, p)
	ctx := context.Background()
	c.Seed(ctx, 7, 300)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(1 + i%3)
			if ok, _, err := c.Take(ctx, 7, n); err != nil {
				t.Error(err)
			} else if ok {
				admitted.Add(n)
			}
		}()
	}
	wg.Wait()
	if admitted.Load() > 300 || admitted.Load() < 298 {
		t.Fatalf("admitted %d units of 300", admitted.Load())
	}
}

type bundle struct {
	e   *engine.Engine
	st  *sqlite.Store
	pid int64
}

func newEngine(t *testing.T, counter engine.Counter, keys int) bundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, _ := keyring.New(bytes.Repeat([]byte{5}, keyring.MasterKeySize))
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Counter: counter,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SweepInterval: 50 * time.Millisecond,
		ResyncInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ctx)
	t.Cleanup(e.Close)
	p := &faka.Product{Name: "p", Price: 100, Currency: "CNY", Active: true, MaxQuantity: 3}
	if err := e.CreateProduct(ctx, p, 0, nil); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range keys {
		fmt.Fprintf(&sb, "K%d\n", i)
	}
	if _, err := e.ImportKeys(ctx, p.ID, strings.NewReader(sb.String())); err != nil {
		t.Fatal(err)
	}
	return bundle{e: e, st: st, pid: p.ID}
}

// drop runs buyers against the engine and returns the units reserved.
func (b bundle) drop(t *testing.T, buyers int, during func(i int)) int64 {
	t.Helper()
	var reserved atomic.Int64
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if during != nil {
				during(i)
			}
			q := 1 + i%3
			_, err := b.e.Reserve(context.Background(), engine.ReserveRequest{ProductID: b.pid, Quantity: q,
				Email: "x@example.com", Gateway: "sandbox"})
			switch {
			case err == nil:
				reserved.Add(int64(q))
			case faka.ErrorCode(err) != faka.ESoldOut:
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	return reserved.Load()
}

func (b bundle) check(t *testing.T, reserved, keys int64) {
	t.Helper()
	rep, err := b.e.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("violations: %+v", rep.Violations)
	}
	if got := rep.Products[0].Reserved; got != reserved || reserved > keys {
		t.Fatalf("db reserved %d, buyers counted %d, keys %d", got, reserved, keys)
	}
}

// TestEngineSurvivesFlush: the gate's figures vanish mid-drop (FLUSHALL);
// the engine seeds them again and sells every key exactly once.
func TestEngineSurvivesFlush(t *testing.T) {
	t.Parallel()
	rdb := client(t)
	p := prefix(t)
	t.Cleanup(func() { flush(t, rdb, p) })
	b := newEngine(t, redisgate.New(rdb, p), 200)
	var once sync.Once
	reserved := b.drop(t, 800, func(i int) {
		if i == 300 {
			once.Do(func() { flush(t, rdb, p) })
		}
	})
	b.check(t, reserved, 200)
	if reserved < 198 {
		t.Fatalf("only %d of 200 keys reserved", reserved)
	}
	if shared, degraded := b.e.GateStatus(); !shared || degraded {
		t.Fatalf("gate status shared=%v degraded=%v", shared, degraded)
	}
}

// TestEngineFallsBackWhenRedisIsDown: with Redis unreachable the engine
// says so and sells through the database alone, still exactly.
func TestEngineFallsBackWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond,
		MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	b := newEngine(t, redisgate.New(dead, "faka:gate:"), 150)
	reserved := b.drop(t, 500, nil)
	b.check(t, reserved, 150)
	if reserved < 148 {
		t.Fatalf("only %d of 150 keys reserved", reserved)
	}
	if _, degraded := b.e.GateStatus(); !degraded {
		t.Fatal("the engine does not report the shared gate as degraded")
	}
}

// TestRateLimiterSharedAcrossClients: two limiters on one Redis (two
// instances) share one budget per key.
func TestRateLimiterSharedAcrossClients(t *testing.T) {
	t.Parallel()
	rdb := client(t)
	p := prefix(t)
	t.Cleanup(func() { flush(t, rdb, p) })
	a, b := redisgate.NewRateLimiter(rdb, p), redisgate.NewRateLimiter(rdb, p)
	ctx := context.Background()
	allowed := 0
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wait, ok, err := l.Allow(ctx, "ip:192.0.2.1", 6)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else if wait <= 0 {
			t.Fatalf("refused without a wait: %v", wait)
		}
	}
	if allowed != 6 {
		t.Fatalf("two instances allowed %d events under a shared limit of 6", allowed)
	}
	if _, ok, _ := a.Allow(ctx, "ip:192.0.2.2", 6); !ok {
		t.Fatal("another key was refused")
	}
}
