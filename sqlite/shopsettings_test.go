package sqlite_test

import (
	"testing"

	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

func TestShopSettingsConformance(t *testing.T) {
	storetest.RunShopSettings(t, func(t *testing.T) storetest.ShopSettingsDriver { return openSQLite(t).(*sqlite.Store) })
}
