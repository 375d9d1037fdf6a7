-- +goose Up
-- The same table as the SQLite store's 00006_shop_settings.sql, in
-- PostgreSQL's types (issue 13): one row, id 1, written on the first save;
-- until then the store answers faka.DefaultShopSettings. The domain
-- (shopsettings.go) validates every field; the checks here only keep the
-- row single and the lengths bounded.
CREATE TABLE shop_settings (
    id               smallint    PRIMARY KEY CHECK (id = 1),
    name             text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    tagline          text        NOT NULL DEFAULT '' CHECK (char_length(tagline) <= 200),
    notice           text        NOT NULL DEFAULT '' CHECK (char_length(notice) <= 20000),
    contact          text        NOT NULL DEFAULT '' CHECK (char_length(contact) <= 500),
    logo_url         text        NOT NULL DEFAULT '' CHECK (char_length(logo_url) <= 2000),
    timezone         text        NOT NULL,
    default_language text        NOT NULL CHECK (default_language IN ('zh-CN', 'en')),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE shop_settings;
