-- +goose Up
-- Times are Unix milliseconds (INTEGER). Money is integer minor units.

CREATE TABLE products (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    price               INTEGER NOT NULL CHECK (price > 0),
    currency            TEXT    NOT NULL CHECK (length(currency) = 3),
    delivery            TEXT    NOT NULL CHECK (delivery IN ('card', 'reusable', 'manual')),
    reservation_ttl_ms  INTEGER NOT NULL CHECK (reservation_ttl_ms > 0),
    min_quantity        INTEGER NOT NULL CHECK (min_quantity >= 1),
    max_quantity        INTEGER NOT NULL CHECK (max_quantity >= min_quantity),
    active              INTEGER NOT NULL DEFAULT 1,
    reusable_hash       BLOB,
    reusable_ciphertext BLOB,
    -- Counted stock of reusable and manual products. Card products keep
    -- these at zero: their stock is their card_keys rows.
    stock_available     INTEGER NOT NULL DEFAULT 0 CHECK (stock_available >= 0),
    stock_reserved      INTEGER NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
    stock_sold          INTEGER NOT NULL DEFAULT 0 CHECK (stock_sold >= 0),
    stock_void          INTEGER NOT NULL DEFAULT 0 CHECK (stock_void >= 0),
    created_at          INTEGER NOT NULL,
    CHECK (delivery <> 'reusable' OR reusable_ciphertext IS NOT NULL)
);

CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY,
    order_no            TEXT    NOT NULL UNIQUE,
    token_hash          BLOB    NOT NULL,
    product_id          INTEGER NOT NULL REFERENCES products (id),
    quantity            INTEGER NOT NULL CHECK (quantity > 0),
    unit_price          INTEGER NOT NULL CHECK (unit_price > 0),
    amount              INTEGER NOT NULL CHECK (amount = unit_price * quantity),
    currency            TEXT    NOT NULL,
    email               TEXT    NOT NULL,
    gateway             TEXT    NOT NULL,
    query_password_hash BLOB,
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'delivered', 'expired',
                                                           'cancelled', 'paid_awaiting_stock', 'refunded')),
    reserved_until      INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    paid_at             INTEGER,
    delivered_at        INTEGER,
    delivery_note       TEXT    NOT NULL DEFAULT ''
);

-- The sweeper's index: only pending orders, by due time.
CREATE INDEX orders_pending_due ON orders (reserved_until) WHERE status = 'pending';
-- Backorders, oldest first per product.
CREATE INDEX orders_backorders ON orders (product_id, paid_at, id) WHERE status = 'paid_awaiting_stock';
CREATE INDEX orders_email ON orders (email);
CREATE INDEX orders_product ON orders (product_id, id);

CREATE TABLE card_keys (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id),
    hash       BLOB    NOT NULL, -- keyed HMAC of the plaintext: duplicates without decrypting
    ciphertext BLOB    NOT NULL, -- AES-256-GCM, bound to (product_id, hash)
    state      INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)), -- available, reserved, sold, void
    order_id   INTEGER REFERENCES orders (id),
    created_at INTEGER NOT NULL,
    UNIQUE (product_id, hash),
    -- A key belongs to at most one order (one column), an available key to
    -- none, and a reserved or sold key to exactly one.
    CHECK ((state = 0 AND order_id IS NULL) OR (state IN (1, 2) AND order_id IS NOT NULL) OR state = 3)
);

-- Claiming keys reads only this partial index.
CREATE INDEX card_keys_available ON card_keys (product_id, id) WHERE state = 0;
CREATE INDEX card_keys_order ON card_keys (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE payments (
    id         INTEGER PRIMARY KEY,
    gateway    TEXT    NOT NULL,
    trade_no   TEXT    NOT NULL,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    amount     INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('delivered', 'paid', 'awaiting_stock', 'extra')),
    created_at INTEGER NOT NULL,
    UNIQUE (gateway, trade_no)
);

-- At most one payment is applied to an order; further trades are 'extra'.
CREATE UNIQUE INDEX payments_applied_once ON payments (order_id) WHERE outcome <> 'extra';

CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products (id),
    order_id    INTEGER REFERENCES orders (id),
    event       TEXT    NOT NULL CHECK (event IN ('import', 'reserve', 'release', 'sell', 'late', 'refund', 'void')),
    d_available INTEGER NOT NULL,
    d_reserved  INTEGER NOT NULL,
    d_sold      INTEGER NOT NULL,
    d_void      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Only imports create units; every other entry moves them.
    CHECK (event = 'import' OR d_available + d_reserved + d_sold + d_void = 0),
    CHECK (event <> 'import' OR (d_available > 0 AND d_reserved = 0 AND d_sold = 0 AND d_void = 0))
);

CREATE INDEX ledger_product ON ledger (product_id);

-- +goose StatementBegin
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
-- +goose StatementEnd

CREATE TABLE idempotency_keys (
    key          TEXT    PRIMARY KEY,
    request_hash BLOB    NOT NULL,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    sealed_token BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE ledger;
DROP TABLE payments;
DROP TABLE card_keys;
DROP TABLE orders;
DROP TABLE products;
