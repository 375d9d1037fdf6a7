package postgres_test

import (
	"testing"

	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/storetest"
)

func TestGatewayConformance(t *testing.T) {
	storetest.RunGateway(t, func(t *testing.T) storetest.GatewayDriver { return openPostgres(t).(*postgres.Store) })
}
