-- +goose Up
-- The same tables as the SQLite store's 00002_shop.sql, in PostgreSQL's
-- types: the storefront and the merchant's console (categories and how
-- products are shown, console accounts and sessions, the buyers'
-- remembered orders, the audit log of revealed keys). Numbers the Go side
-- holds as int or int64 are bigint, as wide as SQLite's INTEGER, so that
-- both stores accept the same values.

CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text   NOT NULL,
    sort_order bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE products ADD COLUMN category_id bigint REFERENCES categories (id) ON DELETE SET NULL;
ALTER TABLE products ADD COLUMN stock_display text NOT NULL DEFAULT 'exact'
    CHECK (stock_display IN ('exact', 'level', 'hidden'));
ALTER TABLE products ADD COLUMN low_stock bigint NOT NULL DEFAULT 10 CHECK (low_stock >= 0);

-- The dashboard reads orders by day created and by day paid.
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_paid ON orders (paid_at) WHERE paid_at IS NOT NULL;

CREATE TABLE admins (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored in lower case (the store folds it with Go's strings.ToLower,
    -- as the SQLite store does), so a plain UNIQUE is case-insensitive and
    -- does not depend on the database's locale as lower() would.
    email         text   NOT NULL UNIQUE,
    password_hash text   NOT NULL, -- PHC string, $argon2id$…
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_sessions (
    token_hash bytea  PRIMARY KEY, -- SHA-256 of the cookie's random token
    admin_id   bigint NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ip         text   NOT NULL DEFAULT ''
);

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Orders a buyer's browser remembers: the cookie holds a random token,
-- this table its SHA-256, one row per order.
CREATE TABLE lookup_tokens (
    token_hash bytea  NOT NULL,
    order_id   bigint NOT NULL REFERENCES orders (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (token_hash, order_id)
);

CREATE INDEX lookup_tokens_expires ON lookup_tokens (expires_at);

-- Every time key plaintext is shown in the console.
CREATE TABLE key_audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES products (id),
    key_id     bigint REFERENCES card_keys (id), -- NULL for an export
    admin_id   bigint REFERENCES admins (id),
    action     text   NOT NULL CHECK (action IN ('reveal', 'export')),
    keys_shown bigint NOT NULL CHECK (keys_shown >= 0),
    ip         text   NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX key_audit_product ON key_audit (product_id, id);

-- +goose StatementBegin
CREATE FUNCTION key_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_audit is append-only';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER key_audit_no_update BEFORE UPDATE OR DELETE ON key_audit
    FOR EACH ROW EXECUTE FUNCTION key_audit_append_only();

-- +goose Down
DROP TABLE key_audit;
DROP FUNCTION key_audit_append_only();
DROP TABLE lookup_tokens;
DROP TABLE admin_sessions;
DROP TABLE admins;
DROP INDEX orders_paid;
DROP INDEX orders_created;
ALTER TABLE products DROP COLUMN low_stock;
ALTER TABLE products DROP COLUMN stock_display;
ALTER TABLE products DROP COLUMN category_id;
DROP TABLE categories;
