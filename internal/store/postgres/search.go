package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
)

// migrateSearch indexes the keys user list --search looks in (email_key,
// username_key, name_key) by trigram: pg_trgm's GIN operator class
// serves LIKE '%text%', so the search's condition is unchanged and the
// planner picks the index or the scan in email order, whichever costs
// less. The index is lossy and PostgreSQL checks every row it gives
// against the LIKE itself: it decides how fast a search is, never what
// it finds. GIN indexes are kept by PostgreSQL in the transaction of
// every write.
//
// pg_trgm is an extension, one per database, in one schema, shared by
// every store in the database. If it is missing it is made in public
// when roster may create there, else in the store's own schema (it is a
// trusted extension: CREATE on the database is enough, no superuser).
// Dropping the schema that holds it drops the indexes of every store
// using it.
func migrateSearch(ctx context.Context, tx pgx.Tx) error {
	ext, err := trigramSchema(ctx, tx)
	if err != nil {
		return err
	}
	// A search the trigram indexes cannot serve (under three
	// characters) or finds everywhere scans its organisation's users in
	// email order until its page is full: this index holds all that scan
	// reads.
	if _, err := tx.Exec(ctx, `CREATE INDEX users_search_keys ON users (org_id, email_key) INCLUDE (id, username_key, name_key, status)`); err != nil {
		return fmt.Errorf("index keys for search: %w", err)
	}
	opclass := pgx.Identifier{ext, "gin_trgm_ops"}.Sanitize()
	for _, col := range []string{"email_key", "username_key", "name_key"} {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE INDEX users_search_%s ON users USING gin (%s %s)`,
			col, col, opclass)); err != nil {
			return fmt.Errorf("index %s for search: %w", col, err)
		}
	}
	return nil
}

// trigramSchema returns the schema of pg_trgm, made if missing.
func trigramSchema(ctx context.Context, tx pgx.Tx) (string, error) {
	find := func() (string, error) {
		var schema string
		err := tx.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
			WHERE e.extname = 'pg_trgm'`).Scan(&schema)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return schema, err
	}
	schema, err := find()
	if err != nil || schema != "" {
		return schema, err
	}
	// Two stores of one database migrating at once (each holds its own
	// lock) may both make it: the loser's statement fails, in a
	// savepoint, and finds the winner's.
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, `DO $$ BEGIN
			IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')
				AND has_schema_privilege('public', 'CREATE') THEN
				CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
			ELSE
				CREATE EXTENSION IF NOT EXISTS pg_trgm;
			END IF;
		END $$`)
		return err
	})
	if schema, ferr := find(); ferr != nil || schema != "" {
		return schema, ferr
	}
	return "", roster.Errorf(roster.ErrUnavailable, "user search needs PostgreSQL's pg_trgm extension, which roster could not create: %v", err).
		WithHint("have the database's owner run CREATE EXTENSION pg_trgm (Debian: apt-get install postgresql-contrib), then roster db migrate")
}
