package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/faka-dev/faka/postgres"
)

// defaultBenchDatabase is the PostgreSQL `faka bench -backend postgres`
// uses when neither -database-url nor FAKA_TEST_DATABASE_URL says.
const defaultBenchDatabase = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// benchSchema is a PostgreSQL schema made for one bench run: faka's
// tables, migrated, in a schema of their own, so that the run never
// touches other data; drop removes it.
type benchSchema struct {
	rawURL string // the database, without search_path
	schema string
	// ServerURL is rawURL with search_path set to the schema: the
	// FAKA_DATABASE_URL of the server under test.
	ServerURL string
	// Describe says which server and settings the run used, for the report.
	Describe string
}

// createBenchSchema creates and migrates a fresh schema in the database at
// rawURL. Product IDs start at a random offset in the billions so that the
// shared admission gate's Redis keys (faka:gate:ID) of this run never
// meet a figure left by another.
func createBenchSchema(ctx context.Context, rawURL string) (*benchSchema, error) {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, fmt.Errorf("faka bench: -database-url must be postgres://…, got %q", redact(rawURL))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("faka bench: -database-url: %w", err)
	}
	s := &benchSchema{rawURL: rawURL, schema: "faka_bench_" + randomHex(6)}
	st, err := postgres.Open(ctx, rawURL, postgres.Options{Schema: s.schema, MaxConns: 2})
	if err != nil {
		// Open may have created the schema before failing.
		_ = s.drop(context.WithoutCancel(ctx), nil)
		return nil, fmt.Errorf("faka bench: %w", err)
	}
	defer st.Close()
	var b [8]byte
	_, _ = rand.Read(b[:])
	start := 1_000_000_000 + int64(binary.BigEndian.Uint64(b[:])%1_000_000_000)
	var version, syncCommit, maxConn string
	err = st.Pool().QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('max_connections')`).Scan(&version, &syncCommit, &maxConn)
	if err == nil {
		_, err = st.Pool().Exec(ctx, `ALTER TABLE products ALTER COLUMN id RESTART WITH `+strconv.FormatInt(start, 10))
	}
	if err != nil {
		_ = s.drop(context.WithoutCancel(ctx), nil)
		return nil, fmt.Errorf("faka bench: prepare schema %s: %w", s.schema, err)
	}
	q := u.Query()
	q.Set("search_path", s.schema)
	u.RawQuery = q.Encode()
	s.ServerURL = u.String()
	pool := "pgxpool's default pool (4 connections on 2 CPUs)"
	if n := q.Get("pool_max_conns"); n != "" {
		pool = "a pool of " + n + " connections"
	}
	s.Describe = fmt.Sprintf("PostgreSQL %s at %s, synchronous_commit = %s, max_connections = %s; faka on %s",
		version, u.Host, syncCommit, maxConn, pool)
	return s, nil
}

// drop removes the schema and, when gate is a Redis client, the shared
// gate's figures of the schema's products.
func (s *benchSchema) drop(ctx context.Context, gate *redis.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.rawURL)
	if err != nil {
		return fmt.Errorf("faka bench: drop schema %s: %w", s.schema, err)
	}
	defer conn.Close(ctx)
	var errs []error
	if gate != nil {
		rows, err := conn.Query(ctx, `SELECT id FROM `+pgx.Identifier{s.schema, "products"}.Sanitize())
		var ids []int64
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		errs = append(errs, err)
		var keys []string
		for _, id := range ids {
			keys = append(keys, "faka:gate:"+strconv.FormatInt(id, 10))
		}
		if len(keys) > 0 {
			errs = append(errs, gate.Del(ctx, keys...).Err())
		}
	}
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{s.schema}.Sanitize()+` CASCADE`); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("faka bench: drop schema %s: %w", s.schema, err)
	}
	return nil
}

// loopbackURL reports whether a database URL names this machine.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch h := u.Hostname(); h {
	case "", "localhost":
		return true
	default:
		a, err := netip.ParseAddr(h)
		return err == nil && a.IsLoopback()
	}
}

// redact returns a URL without its password, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
