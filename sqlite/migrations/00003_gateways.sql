-- +goose Up
-- Payment gateways configured in the console or the admin API (issue 6).
-- settings is the gateway's JSON settings sealed with the keyring
-- (AES-GCM, bound to the name): merchant keys never rest in the clear.
-- updated_at is Unix milliseconds, like 00001.

CREATE TABLE gateway_settings (
    name       TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    settings   BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE gateway_settings;
