package sqlite_test

import (
	"testing"

	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

func TestMetaConformance(t *testing.T) {
	storetest.RunMeta(t, func(t *testing.T) storetest.MetaDriver { return openSQLite(t).(*sqlite.Store) })
}
