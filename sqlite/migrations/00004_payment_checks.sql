-- +goose Up
-- The payment poller's work list (issue 6): orders whose notification has
-- not come are asked about at their gateway, and orders that ended unpaid
-- (expired, cancelled) have their trade closed there. A row is written the
-- first time the poller claims an order, never when the order is created:
-- the reservation path is untouched, and an order without a row is due.
-- Times are Unix milliseconds, like 00001.

CREATE TABLE payment_checks (
    order_id      INTEGER PRIMARY KEY REFERENCES orders (id),
    checks        INTEGER NOT NULL CHECK (checks >= 1),           -- claims so far
    seen_status   TEXT    NOT NULL CHECK (seen_status IN ('pending', 'expired', 'cancelled')),
    next_check_at INTEGER NOT NULL,                               -- due again from then (a claim's lease, or the backoff)
    last_error    TEXT    NOT NULL DEFAULT '' CHECK (length(last_error) <= 500), -- never a secret
    closed_at     INTEGER,                                        -- set: no more checks (paid, or trade closed)
    updated_at    INTEGER NOT NULL
);

-- The second list: orders that ended unpaid, by when they ended. Pending
-- orders are found through orders_pending_due (00001).
CREATE INDEX orders_ended ON orders (updated_at) WHERE status IN ('expired', 'cancelled');
-- Pruning old rows.
CREATE INDEX payment_checks_updated ON payment_checks (updated_at);

-- +goose Down
DROP INDEX payment_checks_updated;
DROP INDEX orders_ended;
DROP TABLE payment_checks;
