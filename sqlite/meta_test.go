package sqlite_test

import (
	"testing"

	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

func TestMetaConformance(t *testing.T) {
	storetest.RunMeta(t, func(t *testing.T) storetest.MetaDriver { return openSQLite(t).(*sqlite.Store) })
}

func TestTwoFactorConformance(t *testing.T) {
	storetest.RunTwoFactor(t, func(t *testing.T) storetest.TwoFactorDriver { return openSQLite(t).(*sqlite.Store) })
}
