-- +goose Up
-- The shop settings (issue 13): one row, id 1, written on the first save;
-- until then the store answers faka.DefaultShopSettings. The domain
-- (shopsettings.go) validates every field; the checks here only keep the
-- row single and the lengths bounded.
CREATE TABLE shop_settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    name             TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    tagline          TEXT    NOT NULL DEFAULT '' CHECK (length(tagline) <= 200),
    notice           TEXT    NOT NULL DEFAULT '' CHECK (length(notice) <= 20000),
    contact          TEXT    NOT NULL DEFAULT '' CHECK (length(contact) <= 500),
    logo_url         TEXT    NOT NULL DEFAULT '' CHECK (length(logo_url) <= 2000),
    timezone         TEXT    NOT NULL,
    default_language TEXT    NOT NULL CHECK (default_language IN ('zh-CN', 'en')),
    updated_at       INTEGER NOT NULL -- Unix milliseconds, like 00001
);

-- +goose Down
DROP TABLE shop_settings;
