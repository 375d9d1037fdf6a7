package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// DefaultCheckpointInterval is how often the background checkpointer
// copies the write-ahead log into the database file unless
// Options.CheckpointInterval says otherwise.
const DefaultCheckpointInterval = time.Second

// checkpointer moves WAL checkpoints off the commit path. By default
// SQLite checkpoints automatically in the connection that commits once the
// log passes 1,000 pages: that commit then also copies the log into the
// database file and fsyncs it, and every write grouped behind it waits —
// after a bulk import, the first order waited for a log of hundreds of
// megabytes. The writer runs with wal_autocheckpoint=0 instead, and this
// goroutine, on a connection of its own, runs PASSIVE checkpoints: they
// never wait for readers or block the writer, which appends to the log
// while a checkpoint copies it. The last connection to close checkpoints
// what is left, as before.
type checkpointer struct {
	db   *sql.DB
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startCheckpointer opens the checkpointer's connection with dsn and
// checkpoints every interval until stopped.
func startCheckpointer(dsn string, interval time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, stop: cancel}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// An error (the database busy with a checkpoint of another
				// process) is retried at the next tick; the log only grows
				// meanwhile.
				_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
	return c, nil
}

// close stops the checkpoints and closes the connection.
func (c *checkpointer) close() error {
	c.stop()
	c.wg.Wait()
	return c.db.Close()
}
