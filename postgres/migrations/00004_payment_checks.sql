-- +goose Up
-- The same table as the SQLite store's 00004_payment_checks.sql, in
-- PostgreSQL's types: the payment poller's work list (issue 6). Orders
-- whose notification has not come are asked about at their gateway, and
-- orders that ended unpaid have their trade closed there. A row is written
-- the first time the poller claims an order, never when the order is
-- created; an order without a row is due.

CREATE TABLE payment_checks (
    order_id      bigint      PRIMARY KEY REFERENCES orders (id),
    checks        bigint      NOT NULL CHECK (checks >= 1),       -- claims so far
    seen_status   text        NOT NULL CHECK (seen_status IN ('pending', 'expired', 'cancelled')),
    next_check_at timestamptz NOT NULL,                           -- due again from then (a claim's lease, or the backoff)
    last_error    text        NOT NULL DEFAULT '' CHECK (length(last_error) <= 500), -- never a secret
    closed_at     timestamptz,                                    -- set: no more checks (paid, or trade closed)
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The second list: orders that ended unpaid, by when they ended. Pending
-- orders are found through orders_pending_due (00001).
CREATE INDEX orders_ended ON orders (updated_at) WHERE status IN ('expired', 'cancelled');
-- Pruning old rows.
CREATE INDEX payment_checks_updated ON payment_checks (updated_at);

-- +goose Down
DROP TABLE payment_checks;
DROP INDEX orders_ended;
