-- +goose Up
-- The same tables as the SQLite store's 00005_meta_totp.sql, in
-- PostgreSQL's types (issue 12). meta's 'master_key_check' holds an
-- HMAC-SHA256 of a constant under the master key, never the key: written
-- by the first instance to start, compared by every later one, so that
-- instances sharing this database with different master keys refuse to
-- start instead of failing to open each other's card keys.
CREATE TABLE meta (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Console two-factor sign-in (TOTP, RFC 6238): the secret sealed with the
-- keyring, confirmed once enrolment proved a code, the last accepted
-- 30-second step so that no code is accepted twice.
CREATE TABLE admin_totp (
    admin_id     bigint      PRIMARY KEY REFERENCES admins (id) ON DELETE CASCADE,
    secret       bytea       NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes, stored as SHA-256 hashes.
CREATE TABLE admin_recovery_codes (
    admin_id  bigint      NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (admin_id, code_hash)
);

-- +goose Down
DROP TABLE admin_recovery_codes;
DROP TABLE admin_totp;
DROP TABLE meta;
