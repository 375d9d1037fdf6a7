package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgBaselineSchema is the baselines' own tables on PostgreSQL, in a schema
// of their own: a stock counter row per product, key rows and order rows.
// faka's schema is never touched.
const pgBaselineSchema = `
CREATE TABLE b_stock (
    product_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    available  bigint NOT NULL CHECK (available >= 0)
);
CREATE TABLE b_orders (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_no       text        NOT NULL UNIQUE,
    token_hash     bytea       NOT NULL,
    product_id     bigint      NOT NULL,
    quantity       int         NOT NULL,
    amount         bigint      NOT NULL,
    currency       text        NOT NULL,
    email          text        NOT NULL,
    status         text        NOT NULL,
    reserved_until timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE b_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL,
    secret     text   NOT NULL,
    state      int    NOT NULL DEFAULT 0,
    order_id   bigint REFERENCES b_orders (id)
);
CREATE INDEX b_keys_available ON b_keys (product_id, id) WHERE state = 0;
`

// pgBaselines is the PostgreSQL database of baselines (a) and (b): a
// schema created for the run and dropped by close.
type pgBaselines struct {
	pool   *pgxpool.Pool
	schema string
	conns  int
}

// openPGBaselines creates a fresh schema in the database at rawURL, the
// baselines' tables in it, and a pool of conns connections whose
// search_path is that schema.
func openPGBaselines(ctx context.Context, rawURL string, conns int) (*pgBaselines, error) {
	schema := "faka_bench_base_" + randomToken()[:10]
	schema = sanitizeSchema(schema)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench: baselines' database URL: %w", err)
	}
	cfg.MaxConns = int32(conns)
	cfg.MinConns = int32(conns)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("bench: baselines' database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("bench: baselines' schema: %w", err)
	}
	b := &pgBaselines{schema: schema, conns: conns}
	if _, err := conn.Exec(ctx, `SET search_path = `+pgx.Identifier{schema}.Sanitize()+`;`+pgBaselineSchema); err != nil {
		b.drop(ctx, conn)
		return nil, fmt.Errorf("bench: baselines' tables: %w", err)
	}
	if b.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		b.drop(ctx, conn)
		return nil, fmt.Errorf("bench: baselines' pool: %w", err)
	}
	return b, nil
}

// sanitizeSchema keeps a schema name to lower-case letters, digits and
// underscores.
func sanitizeSchema(s string) string {
	out := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}

func (b *pgBaselines) drop(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{b.schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("bench: drop the baselines' schema %s: %w", b.schema, err)
	}
	return nil
}

// close closes the pool and drops the schema.
func (b *pgBaselines) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc := b.pool.Config().ConnConfig.Copy()
	b.pool.Close()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("bench: drop the baselines' schema %s: %w", b.schema, err)
	}
	defer conn.Close(ctx)
	return b.drop(ctx, conn)
}

// pgBaseline is baseline (a) or (b) on PostgreSQL: one transaction per
// request on a pool, no batching and no admission gate, written as such
// code usually is.
type pgBaseline struct {
	db      *pgBaselines
	label   string
	counter bool // (a): lock and decrement the stock counter row first
}

func (b *pgBaseline) name() string { return b.label }

func (b *pgBaseline) note() string {
	if b.counter {
		return fmt.Sprintf("(a) pessimistic: per request one READ COMMITTED transaction that takes SELECT … FOR UPDATE on the product's stock counter row, decrements it, then takes the lowest available key row and inserts the order; a pool of %d connections; every request, sold-out ones too, queues for the one row lock", b.db.conns)
	}
	return fmt.Sprintf("(b) row lock without SKIP LOCKED: per request one READ COMMITTED transaction that takes the lowest available key rows with SELECT … ORDER BY id LIMIT q FOR UPDATE and inserts the order; a pool of %d connections; concurrent buyers queue on the same lowest row, then re-check and move on to the next", b.db.conns)
}

func (b *pgBaseline) prepare(ctx context.Context, keys int) (int64, error) {
	var pid int64
	err := pgx.BeginFunc(ctx, b.db.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO b_stock (available) VALUES ($1) RETURNING product_id`, keys).Scan(&pid); err != nil {
			return fmt.Errorf("stock row: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO b_keys (product_id, secret)
			SELECT $1::bigint, 'BASE-' || $1::bigint || '-' || g FROM generate_series(1, $2::int) AS g`, pid, keys); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bench: %s: %w", b.label, err)
	}
	// Fresh statistics, so that the key lookups use the index from the
	// first request, as they would on a table that has been in use.
	if _, err := b.db.pool.Exec(ctx, `ANALYZE b_keys`); err != nil {
		return 0, fmt.Errorf("bench: %s: analyze: %w", b.label, err)
	}
	return pid, nil
}

// reserve is the textbook transaction: plain statements, one transaction
// per buyer, the stock decided under a row lock.
func (b *pgBaseline) reserve(ctx context.Context, productID int64, q int, o *baselineOrder) error {
	err := pgx.BeginFunc(ctx, b.db.pool, func(tx pgx.Tx) error {
		if b.counter {
			var avail int64
			err := tx.QueryRow(ctx, `SELECT available FROM b_stock WHERE product_id = $1 FOR UPDATE`, productID).Scan(&avail)
			if errors.Is(err, pgx.ErrNoRows) {
				return errSoldOut
			}
			if err != nil {
				return fmt.Errorf("lock stock: %w", err)
			}
			if avail < int64(q) {
				return errSoldOut
			}
			if _, err := tx.Exec(ctx, `UPDATE b_stock SET available = available - $1 WHERE product_id = $2`, q, productID); err != nil {
				return fmt.Errorf("decrement stock: %w", err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT id FROM b_keys WHERE product_id = $1 AND state = 0 ORDER BY id LIMIT $2 FOR UPDATE`,
			productID, q)
		if err != nil {
			return fmt.Errorf("find keys: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("find keys: %w", err)
		}
		if len(ids) < q {
			if b.counter {
				return fmt.Errorf("the counter said %d units but only %d key rows are available", q, len(ids))
			}
			return errSoldOut
		}
		var oid int64
		if err := tx.QueryRow(ctx, `INSERT INTO b_orders (order_no, token_hash, product_id, quantity, amount, currency,
			email, status, reserved_until) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) RETURNING id`,
			o.OrderNo, o.TokenHash, productID, q, o.Amount, o.Currency, o.Email, o.Until).Scan(&oid); err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE b_keys SET state = 1, order_id = $1 WHERE state = 0 AND id = ANY($2)`, oid, ids)
		if err != nil {
			return fmt.Errorf("claim keys: %w", err)
		}
		if tag.RowsAffected() != int64(q) {
			return fmt.Errorf("claimed %d keys of %d", tag.RowsAffected(), q)
		}
		return nil
	})
	return err
}

func (b *pgBaseline) taken(ctx context.Context, productID int64) (int, int, error) {
	var units, ordered int
	if err := b.db.pool.QueryRow(ctx, `SELECT count(*) FROM b_keys WHERE product_id = $1 AND state = 1`,
		productID).Scan(&units); err != nil {
		return 0, 0, fmt.Errorf("bench: %s: count keys: %w", b.label, err)
	}
	if err := b.db.pool.QueryRow(ctx, `SELECT COALESCE(sum(quantity), 0) FROM b_orders WHERE product_id = $1`,
		productID).Scan(&ordered); err != nil {
		return 0, 0, fmt.Errorf("bench: %s: count orders: %w", b.label, err)
	}
	return ordered, max(0, ordered-units), nil
}

// redactURL returns a database URL without its password, for reports.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}
