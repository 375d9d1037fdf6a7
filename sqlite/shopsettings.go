package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

var _ faka.ShopSettingsStore = (*Store)(nil)

const shopSettingsColumns = `name, tagline, notice, contact, logo_url, timezone, default_language, updated_at`

// ShopSettingsGet implements faka.ShopSettingsStore.
func (s *Store) ShopSettingsGet(ctx context.Context) (faka.ShopSettings, error) {
	st, err := scanShopSettings(s.read.QueryRowContext(ctx, `SELECT `+shopSettingsColumns+` FROM shop_settings WHERE id = 1`))
	if err != nil {
		return faka.ShopSettings{}, translate(fmt.Errorf("shop settings: %w", err))
	}
	return st, nil
}

// ShopSettingsUpdate implements faka.ShopSettingsStore. The single writer
// connection serialises the read and the write, so two updates of
// different fields both stay.
func (s *Store) ShopSettingsUpdate(ctx context.Context, u faka.ShopSettingsUpdate) (faka.ShopSettings, error) {
	var st faka.ShopSettings
	now := s.nowMS()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		var err error
		st, err = scanShopSettings(tx.QueryRowContext(ctx, `SELECT `+shopSettingsColumns+` FROM shop_settings WHERE id = 1`))
		if err != nil {
			return fmt.Errorf("shop settings: %w", err)
		}
		u.Apply(&st)
		if err := st.Validate(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shop_settings (id, `+shopSettingsColumns+`)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, tagline = excluded.tagline,
				notice = excluded.notice, contact = excluded.contact, logo_url = excluded.logo_url,
				timezone = excluded.timezone, default_language = excluded.default_language,
				updated_at = excluded.updated_at`,
			st.Name, st.Tagline, st.Notice, st.Contact, st.LogoURL, st.Timezone, st.DefaultLanguage, now); err != nil {
			return fmt.Errorf("save shop settings: %w", err)
		}
		return nil
	})
	if err != nil {
		return faka.ShopSettings{}, err // inTx translated it
	}
	st.UpdatedAt = time.UnixMilli(now)
	return st, nil
}

// scanShopSettings reads one row of shop_settings; no row is the defaults.
func scanShopSettings(row scanner) (faka.ShopSettings, error) {
	var st faka.ShopSettings
	var updated int64
	err := row.Scan(&st.Name, &st.Tagline, &st.Notice, &st.Contact, &st.LogoURL, &st.Timezone, &st.DefaultLanguage, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return faka.DefaultShopSettings(), nil
	}
	if err != nil {
		return faka.ShopSettings{}, err
	}
	st.UpdatedAt = time.UnixMilli(updated)
	return st, nil
}
