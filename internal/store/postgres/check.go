package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
)

// Check reports the schema version and what is wrong with the store.
// PostgreSQL checks its own pages; what can still go wrong is roster's:
// a table dropped, a foreign key not enforced (made NOT VALID, or its
// triggers disabled) and rows referring to missing ones, the locked roles
// or roster's permissions deleted by hand. A schema roster has not made
// yet (version 0) has nothing to check.
func (db *DB) Check(ctx context.Context) (version int, problems []string, err error) {
	version, err = db.Version(ctx)
	if err != nil || version == 0 {
		return version, nil, err
	}
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		problems, err = db.check(ctx, tx)
		return err
	})
	return version, problems, db.mapErr(err)
}

func (db *DB) check(ctx context.Context, tx pgx.Tx) ([]string, error) {
	var problems []string
	missing, err := textColumn(ctx, tx, `SELECT t FROM unnest($1::text[]) AS t
		WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $2 AND c.relname = t AND c.relkind IN ('r', 'p'))
		ORDER BY t`, tables, db.schema)
	if err != nil {
		return nil, fmt.Errorf("check tables: %w", err)
	}
	for _, t := range missing {
		problems = append(problems, fmt.Sprintf("table %s is missing", t))
	}
	if len(missing) > 0 {
		// The queries below would only fail on the missing tables.
		return problems, nil
	}

	// Foreign keys: each single-column key roster made, whether it is
	// enforced, and whether any row breaks it.
	type fkey struct{ name, table, column, parent, parentColumn string }
	rows, err := tx.Query(ctx, `SELECT c.conname, t.relname, a.attname, pt.relname, pa.attname,
			c.convalidated AND NOT EXISTS (SELECT 1 FROM pg_trigger g
				WHERE g.tgconstraint = c.oid AND g.tgenabled = 'D')
		FROM pg_constraint c
		JOIN pg_namespace n ON n.oid = c.connamespace
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_class pt ON pt.oid = c.confrelid
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
		WHERE c.contype = 'f' AND n.nspname = $1
		ORDER BY t.relname, c.conname`, db.schema)
	if err != nil {
		return nil, fmt.Errorf("check foreign keys: %w", err)
	}
	var keys []fkey
	for rows.Next() {
		var k fkey
		var enforced bool
		if err := rows.Scan(&k.name, &k.table, &k.column, &k.parent, &k.parentColumn, &enforced); err != nil {
			rows.Close()
			return nil, err
		}
		if !enforced {
			problems = append(problems, fmt.Sprintf("foreign key %s of %s is not enforced", k.name, k.table))
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check foreign keys: %w", err)
	}
	for _, k := range keys {
		child, parent := pgx.Identifier{db.schema, k.table}.Sanitize(), pgx.Identifier{db.schema, k.parent}.Sanitize()
		col, pcol := pgx.Identifier{k.column}.Sanitize(), pgx.Identifier{k.parentColumn}.Sanitize()
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM `+child+` c WHERE c.`+col+` IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM `+parent+` p WHERE p.`+pcol+` = c.`+col+`)`).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("check foreign key %s: %w", k.name, err)
		}
		if n > 0 {
			problems = append(problems, fmt.Sprintf("%d rows of %s refer to missing rows of %s", n, k.table, k.parent))
		}
	}

	// The catalog the core relies on.
	var perms, roles []string
	for _, p := range roster.BuiltinPermissions {
		perms = append(perms, p.Name)
	}
	for _, r := range roster.BuiltinRoles {
		roles = append(roles, r.Name)
	}
	lost, err := textColumn(ctx, tx, `SELECT 'permission ' || p FROM unnest($1::text[]) AS p
			WHERE NOT EXISTS (SELECT 1 FROM permissions WHERE name = p AND builtin)
		UNION ALL
		SELECT 'role ' || r FROM unnest($2::text[]) AS r
			WHERE NOT EXISTS (SELECT 1 FROM roles WHERE name = r AND builtin)`, perms, roles)
	if err != nil {
		return nil, fmt.Errorf("check catalog: %w", err)
	}
	for _, l := range lost {
		problems = append(problems, fmt.Sprintf("built-in %s is missing", l))
	}
	return problems, nil
}

// textColumn runs a query of one text column.
func textColumn(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
