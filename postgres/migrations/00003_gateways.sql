-- +goose Up
-- The same table as the SQLite store's 00003_gateways.sql, in
-- PostgreSQL's types: payment gateways configured in the console or the
-- admin API (issue 6). settings is the gateway's JSON settings sealed
-- with the keyring (AES-GCM, bound to the name).

CREATE TABLE gateway_settings (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    enabled    boolean     NOT NULL,
    settings   bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE gateway_settings;
