package sqlite_test

import (
	"testing"

	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

func TestGatewayConformance(t *testing.T) {
	storetest.RunGateway(t, func(t *testing.T) storetest.GatewayDriver { return openSQLite(t).(*sqlite.Store) })
}
