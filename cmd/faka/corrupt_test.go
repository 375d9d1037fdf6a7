package main

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // the driver, for corrupting a database on purpose
)

// corrupt runs a statement on a database behind the store's back.
func corrupt(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}
