package sampleapp

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// openDB connects to the PostgreSQL database named by the environment
// variable env, for --db-query. The DSN is never printed.
func openDB(getenv func(string) string, env string) (*sql.DB, error) {
	dsn := getenv(env)
	if dsn == "" {
		return nil, fmt.Errorf("--db-query needs a PostgreSQL DSN in the environment variable %s (--db-dsn-env)", env)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("--db-dsn-env %s: %v", env, err)
	}
	db.SetMaxIdleConns(8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database of %s unreachable: %v", env, err)
	}
	return db, nil
}

// query runs the --db-query and reads every row, as an app's request does.
func (a *app) query(ctx context.Context) error {
	rows, err := a.db.QueryContext(ctx, a.opts.dbQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}
