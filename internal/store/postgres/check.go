package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Check reports the schema version and what is wrong with the store.
// PostgreSQL checks its own pages; what can still go wrong is roster's:
// a table dropped, a foreign key not enforced (made NOT VALID, or its
// triggers disabled) and rows referring to missing ones, the locked roles
// or roster's permissions of an organisation deleted by hand, and a
// membership across organisations. A store of an older schema is checked
// as that schema made it. A schema roster has not made
// yet (version 0) has nothing to check.
func (db *DB) Check(ctx context.Context) (version int, problems []string, err error) {
	version, err = db.Version(ctx)
	if err != nil || version == 0 {
		return version, nil, err
	}
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		problems, err = db.check(ctx, tx, version)
		return err
	})
	return version, problems, db.mapErr(err)
}

func (db *DB) check(ctx context.Context, tx pgx.Tx, version int) ([]string, error) {
	var problems []string
	var made []string
	for _, t := range tables {
		if max(tableSince[t], 1) <= version {
			made = append(made, t)
		}
	}
	missing, err := textColumn(ctx, tx, `SELECT t FROM unnest($1::text[]) AS t
		WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $2 AND c.relname = t AND c.relkind IN ('r', 'p'))
		ORDER BY t`, made, db.schema)
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

	// Foreign keys: each key roster made, whether it is enforced, and
	// whether any row breaks it.
	type fkey struct {
		name, table, parent    string
		columns, parentColumns []string
	}
	rows, err := tx.Query(ctx, `SELECT c.conname, t.relname, pt.relname,
			ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, i)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i),
			ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k (attnum, i)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i),
			c.convalidated AND NOT EXISTS (SELECT 1 FROM pg_trigger g
				WHERE g.tgconstraint = c.oid AND g.tgenabled = 'D')
		FROM pg_constraint c
		JOIN pg_namespace n ON n.oid = c.connamespace
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_class pt ON pt.oid = c.confrelid
		WHERE c.contype = 'f' AND n.nspname = $1
		ORDER BY t.relname, c.conname`, db.schema)
	if err != nil {
		return nil, fmt.Errorf("check foreign keys: %w", err)
	}
	var keys []fkey
	for rows.Next() {
		var k fkey
		var enforced bool
		if err := rows.Scan(&k.name, &k.table, &k.parent, &k.columns, &k.parentColumns, &enforced); err != nil {
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
		// MATCH SIMPLE: a key with a NULL column refers to nothing.
		var set, match []string
		for i, col := range k.columns {
			c, p := pgx.Identifier{col}.Sanitize(), pgx.Identifier{k.parentColumns[i]}.Sanitize()
			set = append(set, "c."+c+" IS NOT NULL")
			match = append(match, "p."+p+" = c."+c)
		}
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM `+child+` c WHERE `+strings.Join(set, " AND ")+`
			AND NOT EXISTS (SELECT 1 FROM `+parent+` p WHERE `+strings.Join(match, " AND ")+`)`).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("check foreign key %s: %w", k.name, err)
		}
		if n > 0 {
			problems = append(problems, fmt.Sprintf("%d rows of %s refer to missing rows of %s", n, k.table, k.parent))
		}
	}

	if version < orgsVersion {
		// What follows is of organisations: a store made before them is
		// checked once migrated (roster db check says to migrate it).
		return problems, nil
	}

	// The catalog the core relies on, in every organisation: roster's
	// permissions and the locked roles, and the system organisation's
	// permissions in it alone.
	var perms, sysPerms, roles []string
	for _, p := range roster.BuiltinPermissions {
		perms = append(perms, p.Name)
	}
	for _, p := range roster.SystemPermissions {
		sysPerms = append(sysPerms, p.Name)
	}
	for _, r := range roster.BuiltinRoles {
		roles = append(roles, r.Name)
	}
	lost, err := textColumn(ctx, tx, `SELECT format('organisation %s lacks built-in permission %s', o.slug, p)
			FROM orgs o CROSS JOIN unnest($1::text[]) AS p
			WHERE NOT EXISTS (SELECT 1 FROM permissions WHERE org_id = o.id AND name = p AND builtin)
		UNION ALL
		SELECT format('organisation %s lacks built-in permission %s', o.slug, p)
			FROM orgs o CROSS JOIN unnest($2::text[]) AS p
			WHERE o.id = $4 AND NOT EXISTS (SELECT 1 FROM permissions WHERE org_id = o.id AND name = p AND builtin)
		UNION ALL
		SELECT format('organisation %s holds %s, a permission of the system organisation''s only', o.slug, p.name)
			FROM orgs o JOIN permissions p ON p.org_id = o.id
			WHERE o.id <> $4 AND p.name = ANY($2)
		UNION ALL
		SELECT format('organisation %s lacks built-in role %s', o.slug, r)
			FROM orgs o CROSS JOIN unnest($3::text[]) AS r
			WHERE NOT EXISTS (SELECT 1 FROM roles WHERE org_id = o.id AND name = r AND builtin)
				AND NOT (o.id = $4 AND r = $5 AND EXISTS (SELECT 1 FROM roles WHERE org_id = o.id AND name = r))
		UNION ALL
		SELECT 'the system organisation is missing' WHERE NOT EXISTS (SELECT 1 FROM orgs WHERE id = $4)`,
		perms, sysPerms, roles, store.SystemOrg, roster.RoleDeveloper)
	if err != nil {
		return nil, fmt.Errorf("check catalog: %w", err)
	}
	problems = append(problems, lost...)

	// A membership joins a project and a user of one organisation.
	var n int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM memberships m JOIN projects p ON p.id = m.project_id
		JOIN users u ON u.id = m.user_id WHERE p.org_id <> u.org_id`).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("check memberships: %w", err)
	}
	if n > 0 {
		problems = append(problems, fmt.Sprintf("%d memberships join a project and a user of different organisations", n))
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
