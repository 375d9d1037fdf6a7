-- +goose Up
-- Stock hoarding: how many units one client (a keyed hash of its address,
-- never the address) and one email may hold in a product's unpaid orders
-- is counted from the orders themselves (engine/rules.go).
ALTER TABLE orders ADD COLUMN client_hash bytea;
CREATE INDEX orders_pending_client ON orders (client_hash) WHERE status = 'pending' AND client_hash IS NOT NULL;

-- +goose Down
DROP INDEX orders_pending_client;
ALTER TABLE orders DROP COLUMN client_hash;
