package faka

import (
	"context"
	"time"
)

// GatewaySetting is one payment gateway's configuration as the store keeps
// it. Sealed holds the gateway's settings (a JSON object, secrets
// included) encrypted with the keyring and bound to the gateway's name, so
// the store never sees a merchant key in the clear.
type GatewaySetting struct {
	Name      string
	Enabled   bool
	Sealed    []byte
	UpdatedAt time.Time
}

// GatewayStore keeps the payment gateways' settings (docs/ARCHITECTURE.md §8: shop
// settings live in the database). Implementations: sqlite, postgres.
type GatewayStore interface {
	// GatewaySettingsGet returns the settings of the gateway called name,
	// or an ENotFound error.
	GatewaySettingsGet(ctx context.Context, name string) (*GatewaySetting, error)
	// GatewaySettingsPut inserts or replaces the settings of gs.Name and
	// sets gs.UpdatedAt. An empty name or empty Sealed is EInvalid.
	GatewaySettingsPut(ctx context.Context, gs *GatewaySetting) error
	// GatewaySettingsList returns every stored gateway's settings by name.
	GatewaySettingsList(ctx context.Context) ([]*GatewaySetting, error)
}
