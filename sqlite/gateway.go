package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

// The payment gateways' settings (faka.GatewayStore).

var _ faka.GatewayStore = (*Store)(nil)

// GatewaySettingsGet implements faka.GatewayStore.
func (s *Store) GatewaySettingsGet(ctx context.Context, name string) (*faka.GatewaySetting, error) {
	gs, err := scanGateway(s.read.QueryRowContext(ctx,
		`SELECT name, enabled, settings, updated_at FROM gateway_settings WHERE name = ?`, name))
	if err != nil {
		return nil, translate(fmt.Errorf("gateway %q: %w", name, err))
	}
	return gs, nil
}

// GatewaySettingsPut implements faka.GatewayStore.
func (s *Store) GatewaySettingsPut(ctx context.Context, gs *faka.GatewaySetting) error {
	if gs.Name == "" || len(gs.Sealed) == 0 {
		return faka.Errorf(faka.EInvalid, "gateway settings need a name and sealed settings")
	}
	now := s.nowMS()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		_, err := tx.ExecContext(ctx, `INSERT INTO gateway_settings (name, enabled, settings, updated_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings,
				updated_at = excluded.updated_at`,
			gs.Name, boolInt(gs.Enabled), gs.Sealed, now)
		if err != nil {
			return fmt.Errorf("save gateway %q: %w", gs.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	gs.UpdatedAt = time.UnixMilli(now)
	return nil
}

// GatewaySettingsList implements faka.GatewayStore.
func (s *Store) GatewaySettingsList(ctx context.Context) ([]*faka.GatewaySetting, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, enabled, settings, updated_at FROM gateway_settings ORDER BY name`)
	if err != nil {
		return nil, translate(fmt.Errorf("list gateways: %w", err))
	}
	defer rows.Close()
	var out []*faka.GatewaySetting
	for rows.Next() {
		gs, err := scanGateway(rows)
		if err != nil {
			return nil, translate(fmt.Errorf("list gateways: %w", err))
		}
		out = append(out, gs)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("list gateways: %w", err))
	}
	return out, nil
}

func scanGateway(row scanner) (*faka.GatewaySetting, error) {
	var gs faka.GatewaySetting
	var enabled int
	var updated int64
	if err := row.Scan(&gs.Name, &enabled, &gs.Sealed, &updated); err != nil {
		return nil, err
	}
	gs.Enabled, gs.UpdatedAt = enabled != 0, time.UnixMilli(updated)
	return &gs, nil
}
