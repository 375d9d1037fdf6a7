package sqlite

import (
	"io/fs"
)

// migrationsFS returns the embedded migrations with the directory prefix
// stripped, as goose expects.
func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
