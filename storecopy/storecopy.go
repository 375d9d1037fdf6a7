// Package storecopy moves a shop from the embedded SQLite store to
// PostgreSQL: every table, row for row, ids kept, in one PostgreSQL
// transaction, then the identity sequences moved past the copied ids and
// the result reconciled. Both stores must be at the same migration
// version; the target must hold no rows in the copied tables.
package storecopy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faka-dev/faka"
)

// kind says how a SQLite value becomes a PostgreSQL one.
type kind int

const (
	asIs     kind = iota // integers, text, blobs, NULL
	msTime               // Unix milliseconds → timestamptz
	msTimeOr             // nullable Unix milliseconds → timestamptz or NULL
	boolInt              // 0/1 → boolean
	smallInt             // integer → smallint
)

type column struct {
	name string
	kind kind
}

type table struct {
	name     string
	identity bool // has an id identity column to move past the copied ids
	cols     []column
}

func cols(spec string) []column {
	var out []column
	for _, f := range strings.Fields(spec) {
		name, k, _ := strings.Cut(f, ":")
		c := column{name: name}
		switch k {
		case "t":
			c.kind = msTime
		case "t?":
			c.kind = msTimeOr
		case "b":
			c.kind = boolInt
		case "i2":
			c.kind = smallInt
		}
		out = append(out, c)
	}
	return out
}

// tables lists every table of migrations 00001 to 00004, parents before
// children. A migration that adds a table or column adds it here too; the
// test copies a populated shop and compares every row.
var tables = []table{
	{"categories", true, cols(`id name sort_order created_at:t`)},
	{"products", true, cols(`id name description price currency delivery reservation_ttl_ms min_quantity
		max_quantity active:b reusable_hash reusable_ciphertext stock_available stock_reserved stock_sold stock_void
		created_at:t category_id stock_display low_stock`)},
	{"orders", true, cols(`id order_no token_hash product_id quantity unit_price amount currency email gateway
		query_password_hash status reserved_until:t created_at:t updated_at:t paid_at:t? delivered_at:t? delivery_note`)},
	{"payment_checks", false, cols(`order_id checks seen_status next_check_at:t last_error closed_at:t? updated_at:t`)},
	{"card_keys", true, cols(`id product_id hash ciphertext state:i2 order_id created_at:t`)},
	{"payments", true, cols(`id gateway trade_no order_id amount currency outcome created_at:t`)},
	{"ledger", true, cols(`id product_id order_id event d_available d_reserved d_sold d_void created_at:t`)},
	{"idempotency_keys", false, cols(`key request_hash order_id sealed_token created_at:t`)},
	{"admins", true, cols(`id email password_hash created_at:t`)},
	{"admin_sessions", false, cols(`token_hash admin_id created_at:t expires_at:t ip`)},
	{"lookup_tokens", false, cols(`token_hash order_id created_at:t expires_at:t`)},
	{"key_audit", true, cols(`id product_id key_id admin_id action keys_shown ip created_at:t`)},
	{"gateway_settings", false, cols(`name enabled:b settings updated_at:t`)},
}

// Report says what was copied.
type Report struct {
	Rows map[string]int64
}

// Copy copies every table from the SQLite database src into the
// PostgreSQL database dst (already migrated), in one transaction: on any
// error nothing is left in dst.
func Copy(ctx context.Context, src *sql.DB, dst *pgxpool.Pool) (*Report, error) {
	rep := &Report{Rows: map[string]int64{}}
	err := pgx.BeginFunc(ctx, dst, func(tx pgx.Tx) error {
		// Every table, not just products: a console account made on the
		// new database before the copy would collide with a copied id.
		for _, t := range tables {
			var used bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{t.name}.Sanitize()+`)`).
				Scan(&used); err != nil {
				return fmt.Errorf("storecopy: inspect target: %w", err)
			}
			if used {
				return faka.Errorf(faka.EConflict, "the target database already has rows in %s; copy into an empty one", t.name)
			}
		}
		for _, t := range tables {
			copied, err := copyTable(ctx, src, tx, t)
			if err != nil {
				return err
			}
			rep.Rows[t.name] = copied
			if t.identity && copied > 0 {
				if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM `+
					pgx.Identifier{t.name}.Sanitize()+`))`, t.name); err != nil {
					return fmt.Errorf("storecopy: move the %s sequence: %w", t.name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// copyTable streams one table through COPY.
func copyTable(ctx context.Context, src *sql.DB, tx pgx.Tx, t table) (int64, error) {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+t.name+` ORDER BY rowid`)
	if err != nil {
		return 0, fmt.Errorf("storecopy: read %s: %w", t.name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var convErr error
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, c := range t.cols {
			if out[i], convErr = convert(vals[i], c.kind); convErr != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.name, c.name, convErr)
			}
		}
		return out, nil
	}))
	if err != nil {
		return 0, fmt.Errorf("storecopy: copy %s: %w", t.name, err)
	}
	return n, nil
}

func convert(v any, k kind) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case asIs:
		return v, nil
	case msTime, msTimeOr:
		ms, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("want Unix milliseconds, got %T", v)
		}
		return time.UnixMilli(ms).UTC(), nil
	case boolInt:
		i, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("want 0 or 1, got %T", v)
		}
		return i != 0, nil
	case smallInt:
		i, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %T", v)
		}
		return int16(i), nil
	}
	return nil, fmt.Errorf("unknown column kind %d", k)
}
