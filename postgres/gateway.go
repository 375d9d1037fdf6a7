package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// The payment gateways' settings (faka.GatewayStore).

var _ faka.GatewayStore = (*Store)(nil)

// Names are ordered byte-wise (COLLATE "C"), as SQLite orders them.
const gatewayColumns = `name, enabled, settings, updated_at`

// GatewaySettingsGet implements faka.GatewayStore.
func (s *Store) GatewaySettingsGet(ctx context.Context, name string) (*faka.GatewaySetting, error) {
	gs, err := scanGateway(s.pool.QueryRow(ctx, `SELECT `+gatewayColumns+` FROM gateway_settings WHERE name = $1`, name))
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
	return s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO gateway_settings (name, enabled, settings, updated_at)
			VALUES ($1, $2, $3, now())
			ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings,
				updated_at = excluded.updated_at
			RETURNING updated_at`, gs.Name, gs.Enabled, gs.Sealed).Scan(&gs.UpdatedAt)
		if err != nil {
			return fmt.Errorf("save gateway %q: %w", gs.Name, err)
		}
		return nil
	})
}

// GatewaySettingsList implements faka.GatewayStore.
func (s *Store) GatewaySettingsList(ctx context.Context) ([]*faka.GatewaySetting, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+gatewayColumns+` FROM gateway_settings ORDER BY name COLLATE "C"`)
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

func scanGateway(row pgx.Row) (*faka.GatewaySetting, error) {
	var gs faka.GatewaySetting
	if err := row.Scan(&gs.Name, &gs.Enabled, &gs.Sealed, &gs.UpdatedAt); err != nil {
		return nil, err
	}
	return &gs, nil
}
