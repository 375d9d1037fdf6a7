package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

var _ faka.ShopSettingsStore = (*Store)(nil)

const shopSettingsColumns = `name, tagline, notice, contact, logo_url, timezone, default_language, updated_at`

// ShopSettingsGet implements faka.ShopSettingsStore.
func (s *Store) ShopSettingsGet(ctx context.Context) (faka.ShopSettings, error) {
	st, err := scanShopSettings(s.pool.QueryRow(ctx, `SELECT `+shopSettingsColumns+` FROM shop_settings WHERE id = 1`))
	if err != nil {
		return faka.ShopSettings{}, translate(fmt.Errorf("shop settings: %w", err))
	}
	return st, nil
}

// ShopSettingsUpdate implements faka.ShopSettingsStore. Unlike SQLite's
// single writer, two instances may update at once: the row is first
// created with the defaults if missing (a concurrent creator makes this
// wait, then do nothing), then locked, so the second update reads what
// the first saved and both changes stay. A refused update rolls back the
// created row too.
func (s *Store) ShopSettingsUpdate(ctx context.Context, u faka.ShopSettingsUpdate) (faka.ShopSettings, error) {
	var st faka.ShopSettings
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		d := faka.DefaultShopSettings()
		if _, err := tx.Exec(ctx, `INSERT INTO shop_settings (id, name, timezone, default_language)
			VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING`, d.Name, d.Timezone, d.DefaultLanguage); err != nil {
			return fmt.Errorf("shop settings: %w", err)
		}
		var err error
		st, err = scanShopSettings(tx.QueryRow(ctx, `SELECT `+shopSettingsColumns+` FROM shop_settings WHERE id = 1 FOR UPDATE`))
		if err != nil {
			return fmt.Errorf("shop settings: %w", err)
		}
		u.Apply(&st)
		if err := st.Validate(); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE shop_settings SET name = $1, tagline = $2, notice = $3, contact = $4,
				logo_url = $5, timezone = $6, default_language = $7, updated_at = now()
			WHERE id = 1 RETURNING updated_at`,
			st.Name, st.Tagline, st.Notice, st.Contact, st.LogoURL, st.Timezone, st.DefaultLanguage).Scan(&st.UpdatedAt); err != nil {
			return fmt.Errorf("save shop settings: %w", err)
		}
		return nil
	})
	if err != nil {
		return faka.ShopSettings{}, err // inTx translated it
	}
	return st, nil
}

// scanShopSettings reads one row of shop_settings; no row is the defaults.
func scanShopSettings(row pgx.Row) (faka.ShopSettings, error) {
	var st faka.ShopSettings
	err := row.Scan(&st.Name, &st.Tagline, &st.Notice, &st.Contact, &st.LogoURL, &st.Timezone, &st.DefaultLanguage, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return faka.DefaultShopSettings(), nil
	}
	if err != nil {
		return faka.ShopSettings{}, err
	}
	return st, nil
}
