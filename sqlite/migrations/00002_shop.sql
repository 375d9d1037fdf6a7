-- +goose Up
-- The storefront and the merchant's console (issue 4): categories and how
-- products are shown, console accounts and sessions, the buyers'
-- remembered orders, and the audit log of revealed keys. Times are Unix
-- milliseconds (INTEGER), like 00001.

CREATE TABLE categories (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

ALTER TABLE products ADD COLUMN category_id INTEGER REFERENCES categories (id) ON DELETE SET NULL;
ALTER TABLE products ADD COLUMN stock_display TEXT NOT NULL DEFAULT 'exact'
    CHECK (stock_display IN ('exact', 'level', 'hidden'));
ALTER TABLE products ADD COLUMN low_stock INTEGER NOT NULL DEFAULT 10 CHECK (low_stock >= 0);

-- The dashboard reads orders by day created and by day paid.
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_paid ON orders (paid_at) WHERE paid_at IS NOT NULL;

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE, -- stored in lower case
    password_hash TEXT    NOT NULL,        -- PHC string, $argon2id$…
    created_at    INTEGER NOT NULL
);

CREATE TABLE admin_sessions (
    token_hash BLOB    PRIMARY KEY, -- SHA-256 of the cookie's random token
    admin_id   INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip         TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Orders a buyer's browser remembers: the cookie holds a random token,
-- this table its SHA-256, one row per order.
CREATE TABLE lookup_tokens (
    token_hash BLOB    NOT NULL,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (token_hash, order_id)
);

CREATE INDEX lookup_tokens_expires ON lookup_tokens (expires_at);

-- Every time key plaintext is shown in the console.
CREATE TABLE key_audit (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id),
    key_id     INTEGER REFERENCES card_keys (id), -- NULL for an export
    admin_id   INTEGER REFERENCES admins (id),
    action     TEXT    NOT NULL CHECK (action IN ('reveal', 'export')),
    keys_shown INTEGER NOT NULL CHECK (keys_shown >= 0),
    ip         TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE INDEX key_audit_product ON key_audit (product_id, id);

-- +goose StatementBegin
CREATE TRIGGER key_audit_no_update BEFORE UPDATE ON key_audit
BEGIN
    SELECT RAISE(ABORT, 'key_audit is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER key_audit_no_delete BEFORE DELETE ON key_audit
BEGIN
    SELECT RAISE(ABORT, 'key_audit is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE key_audit;
DROP TABLE lookup_tokens;
DROP TABLE admin_sessions;
DROP TABLE admins;
DROP INDEX orders_paid;
DROP INDEX orders_created;
ALTER TABLE products DROP COLUMN low_stock;
ALTER TABLE products DROP COLUMN stock_display;
ALTER TABLE products DROP COLUMN category_id;
DROP TABLE categories;
