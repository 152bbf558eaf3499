//go:build !cgo

package sqlparse

import "fmt"

// parsePostgres is unavailable: PostgreSQL's parser is C, compiled in with cgo.
func parsePostgres(string) (*Script, error) {
	return nil, fmt.Errorf("postgres: %w (PostgreSQL's parser needs cgo; build with CGO_ENABLED=1)", ErrUnavailable)
}
