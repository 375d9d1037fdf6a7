package postgres_test

import (
	"testing"

	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/storetest"
)

func TestShopSettingsConformance(t *testing.T) {
	storetest.RunShopSettings(t, func(t *testing.T) storetest.ShopSettingsDriver { return openPostgres(t).(*postgres.Store) })
}
