package postgres_test

import (
	"testing"

	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/storetest"
)

func TestMetaConformance(t *testing.T) {
	storetest.RunMeta(t, func(t *testing.T) storetest.MetaDriver { return openPostgres(t).(*postgres.Store) })
}

func TestTwoFactorConformance(t *testing.T) {
	storetest.RunTwoFactor(t, func(t *testing.T) storetest.TwoFactorDriver { return openPostgres(t).(*postgres.Store) })
}
