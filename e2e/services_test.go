package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
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

// redisDatabase returns the URL of logical database db on the server of
// serverURL, flushed now and when the test ends.
func redisDatabase(t *testing.T, serverURL string, db int) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("FAKA_TEST_REDIS_URL: %v", err)
	}
	u.Path = "/" + strconv.Itoa(db)
	dbURL := u.String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := flushRedis(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := flushRedis(ctx, dbURL); err != nil {
			t.Error(err)
		}
	})
	return dbURL
}

// redisKeys returns how many keys the logical database dbURL names holds.
func redisKeys(ctx context.Context, dbURL string) (int64, error) {
	opts, err := redis.ParseURL(dbURL)
	if err != nil {
		return 0, fmt.Errorf("redis URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	n, err := rdb.DBSize(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis DBSIZE on %s: %w", dbURL, err)
	}
	return n, nil
}

// flushRedis empties the one logical database dbURL names: the fault test's
// FLUSHALL, without touching what other tests keep on the same server.
func flushRedis(ctx context.Context, dbURL string) error {
	opts, err := redis.ParseURL(dbURL)
	if err != nil {
		return fmt.Errorf("redis URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis FLUSHDB on %s: %w", dbURL, err)
	}
	return nil
}
