package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// freshDatabase creates an empty database on the server of serverURL and
// returns its URL; it is dropped, with any connection left to it, when
// the test ends.
func freshDatabase(t *testing.T, serverURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("FAKA_TEST_DATABASE_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "faka_e2e_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect to FAKA_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// overdueSeconds is how long the most overdue pending order has been past
// its reservation by the database clock; negative or zero when none is.
// It reads the orders table of the PostgreSQL store directly: reservations
// must end (docs/ARCHITECTURE.md §1.5) whatever the instances believe.
func overdueSeconds(ctx context.Context, conn *pgx.Conn) (float64, error) {
	var s float64
	err := conn.QueryRow(ctx, `SELECT COALESCE(max(extract(epoch FROM now() - reserved_until)), -1)::float8
		FROM orders WHERE status = 'pending'`).Scan(&s)
	return s, err
}

// paymentOutcomes counts the payments recorded in the database by outcome
// (delivered, awaiting_stock, …), and the orders there are in all.
func paymentOutcomes(ctx context.Context, conn *pgx.Conn) (outcomes map[string]int, orders int, err error) {
	rows, err := conn.Query(ctx, `SELECT outcome, count(*) FROM payments GROUP BY outcome`)
	if err != nil {
		return nil, 0, err
	}
	outcomes = map[string]int{}
	var outcome string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&outcome, &n}, func() error {
		outcomes[outcome] = n
		return nil
	}); err != nil {
		return nil, 0, err
	}
	err = conn.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders)
	return outcomes, orders, err
}

// oldestTransaction returns the age in seconds of the oldest open
// transaction on the database, other than conn's, and the statement it
// runs or last ran: a long one holds its locks, and rows it locked (a
// sweep's due orders, say) wait for its commit.
func oldestTransaction(ctx context.Context, conn *pgx.Conn) (float64, string, error) {
	var age float64
	var query string
	err := conn.QueryRow(ctx, `SELECT extract(epoch FROM now() - xact_start)::float8, left(query, 100)
		FROM pg_stat_activity WHERE datname = current_database() AND xact_start IS NOT NULL
		AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 1`).Scan(&age, &query)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	return age, strings.Join(strings.Fields(query), " "), err
}

// redisNamespace returns FAKA_TEST_REDIS_URL (its server and logical
// database, as given) with a key_prefix of this test's own, so that the
// instances write only keys under it; they are deleted now and when the
// test ends, and no other key of that database is touched: two runs on one
// Redis keep apart.
func redisNamespace(t *testing.T, serverURL string) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("FAKA_TEST_REDIS_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	q := u.Query()
	q.Set("key_prefix", "faka-e2e-"+hex.EncodeToString(b)+":")
	u.RawQuery = q.Encode()
	nsURL := u.String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := flushRedis(ctx, nsURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := flushRedis(ctx, nsURL); err != nil {
			t.Error(err)
		}
	})
	return nsURL
}

// redisClient connects to the database of nsURL and returns its
// key_prefix (redisNamespace's), which go-redis does not read.
func redisClient(nsURL string) (*redis.Client, string, error) {
	u, err := url.Parse(nsURL)
	if err != nil {
		return nil, "", fmt.Errorf("redis URL: %w", err)
	}
	q := u.Query()
	prefix := q.Get("key_prefix")
	if prefix == "" {
		return nil, "", fmt.Errorf("redis URL %s has no key_prefix", nsURL)
	}
	q.Del("key_prefix")
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redis URL: %w", err)
	}
	return redis.NewClient(opts), prefix, nil
}

// redisScan calls fn with each batch of keys under nsURL's prefix.
func redisScan(ctx context.Context, nsURL string, fn func(rdb *redis.Client, keys []string) error) error {
	rdb, prefix, err := redisClient(nsURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			return fmt.Errorf("redis SCAN %s*: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := fn(rdb, keys); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// redisKeys returns how many keys the instances keep under nsURL's prefix.
func redisKeys(ctx context.Context, nsURL string) (int64, error) {
	var n int64
	err := redisScan(ctx, nsURL, func(_ *redis.Client, keys []string) error {
		n += int64(len(keys))
		return nil
	})
	return n, err
}

// flushRedis deletes every key under nsURL's prefix: the fault test's
// FLUSHALL, without touching anything else on the same server.
func flushRedis(ctx context.Context, nsURL string) error {
	return redisScan(ctx, nsURL, func(rdb *redis.Client, keys []string) error {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("redis DEL: %w", err)
		}
		return nil
	})
}
