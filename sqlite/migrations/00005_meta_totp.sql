-- +goose Up
-- Facts about the database itself (issue 12). 'master_key_check' holds an
-- HMAC-SHA256 of a constant under the master key, never the key: written
-- on the first start, compared on every later one, so that an instance
-- started with another master key refuses to start instead of failing to
-- open the card keys the first instance sealed.
CREATE TABLE meta (
    name       TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL -- Unix milliseconds, like 00001
);

-- Console two-factor sign-in (TOTP, RFC 6238). The secret is sealed with
-- the keyring like the gateways' settings; confirmed_at is NULL until the
-- account proved one code during enrolment, and only then is a code asked
-- at sign-in. last_step is the last accepted 30-second step: a code is
-- never accepted twice.
CREATE TABLE admin_totp (
    admin_id     INTEGER PRIMARY KEY REFERENCES admins (id) ON DELETE CASCADE,
    secret       BLOB    NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);

-- One-time recovery codes, stored as SHA-256 hashes.
CREATE TABLE admin_recovery_codes (
    admin_id  INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (admin_id, code_hash)
);

-- +goose Down
DROP TABLE admin_recovery_codes;
DROP TABLE admin_totp;
DROP TABLE meta;
