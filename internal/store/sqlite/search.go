package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/roster-dev/roster/internal/store"
)

// schemaSearch indexes the keys user list --search looks in (email_key,
// username_key, name_key) by trigram, so that a search need not read
// every user: FTS5's trigram tokenizer, on an external-content table
// (the text stays in users alone). case_sensitive 1: the keys are folded
// by Go (store.FoldKey) before they are stored, and so is the search, so
// the index must compare them as they are; FTS5's own folding differs
// from Go's. detail=none and columnsize=0 keep the index small, as
// nothing asks it for positions or ranks: a search takes the rows
// holding every trigram of its text, and checks them as the scan does
// (see searchCandidates). Triggers keep the index in the transaction of every
// write to users, whichever statement makes it. A later migration that
// makes users anew (SQLite's way of altering a table) drops the triggers,
// users_search_keys and users_short_keys with it: it must make them
// again (as searchTriggers and schemaSearchShort have them now) and
// rebuild.
//
// A search the index cannot serve (one character) or finds in
// many users scans its organisation's users in email order until its
// page is full: the
// index users_search_keys holds all the scan reads, so that it walks one
// index instead of looking up each user's row, ten times faster (0.33 s
// instead of 3 s for a million users on this project's machine).
// (IF NOT EXISTS: a store rewound to an older version by a test migrates
// again.)
const schemaSearch = `
CREATE INDEX IF NOT EXISTS users_search_keys ON users (org_id, email_key, username_key, name_key, status);
CREATE VIRTUAL TABLE IF NOT EXISTS users_search USING fts5 (
	email_key, username_key, name_key,
	content = 'users', content_rowid = 'id',
	tokenize = 'trigram case_sensitive 1', detail = none, columnsize = 0
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER IF NOT EXISTS users_search_insert AFTER INSERT ON users BEGIN
	INSERT INTO users_search (rowid, email_key, username_key, name_key)
		VALUES (new.id, new.email_key, new.username_key, new.name_key);
END;
CREATE TRIGGER IF NOT EXISTS users_search_delete AFTER DELETE ON users BEGIN
	INSERT INTO users_search (users_search, rowid, email_key, username_key, name_key)
		VALUES ('delete', old.id, old.email_key, old.username_key, old.name_key);
END;
CREATE TRIGGER IF NOT EXISTS users_search_update AFTER UPDATE OF id, email_key, username_key, name_key ON users
	WHEN old.id IS NOT new.id OR old.email_key IS NOT new.email_key
		OR old.username_key IS NOT new.username_key OR old.name_key IS NOT new.name_key
BEGIN
	INSERT INTO users_search (users_search, rowid, email_key, username_key, name_key)
		VALUES ('delete', old.id, old.email_key, old.username_key, old.name_key);
	INSERT INTO users_search (rowid, email_key, username_key, name_key)
		VALUES (new.id, new.email_key, new.username_key, new.name_key);
END;
`

// schemaSearchPause lets a bulk insert pause the index (see pauseSearch):
// the triggers of schemaSearch again, each leaving alone the users above
// the mark users_search_paused holds, if it holds one.
const schemaSearchPause = `
CREATE TABLE IF NOT EXISTS users_search_paused (since INTEGER NOT NULL);
DROP TRIGGER IF EXISTS users_search_insert;
DROP TRIGGER IF EXISTS users_search_delete;
DROP TRIGGER IF EXISTS users_search_update;
` + searchTriggers

// searchTriggers keep users_search in step with users, but for the users
// whose id is above a pause's mark, which resumeSearch indexes.
const searchTriggers = `
CREATE TRIGGER users_search_insert AFTER INSERT ON users
	WHEN NOT EXISTS (SELECT 1 FROM users_search_paused WHERE since < new.id)
BEGIN
	INSERT INTO users_search (rowid, email_key, username_key, name_key)
		VALUES (new.id, new.email_key, new.username_key, new.name_key);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users
	WHEN NOT EXISTS (SELECT 1 FROM users_search_paused WHERE since < old.id)
BEGIN
	INSERT INTO users_search (users_search, rowid, email_key, username_key, name_key)
		VALUES ('delete', old.id, old.email_key, old.username_key, old.name_key);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF id, email_key, username_key, name_key ON users
	WHEN old.id IS NOT new.id OR old.email_key IS NOT new.email_key
		OR old.username_key IS NOT new.username_key OR old.name_key IS NOT new.name_key
BEGIN
	INSERT INTO users_search (users_search, rowid, email_key, username_key, name_key)
		SELECT 'delete', old.id, old.email_key, old.username_key, old.name_key
		WHERE NOT EXISTS (SELECT 1 FROM users_search_paused WHERE since < old.id);
	INSERT INTO users_search (rowid, email_key, username_key, name_key)
		SELECT new.id, new.email_key, new.username_key, new.name_key
		WHERE NOT EXISTS (SELECT 1 FROM users_search_paused WHERE since < new.id);
END;
`

// pauseSearch stops the triggers indexing the users written from now on
// in this transaction, until resumeSearch indexes them all in one
// statement. FTS5 writes the terms it holds to a new segment of the
// index at the start of every statement that may need undoing
// (its savepoint), so that an import of 100,000 users, 1,024 to an
// INSERT, made a hundred small segments, then spent as much again merging
// them; one INSERT…SELECT of them all makes few (0.3 s of 3.8 s of CPU).
//
// The index then holds exactly what the triggers would have made: the
// mark is the largest id at the pause, so that the users above it are
// those written since, none of them indexed (every trigger leaves them
// alone, whatever is done to them meanwhile), and each is indexed once,
// as it is at the resume; the users at or below the mark are kept by
// the triggers as ever. Nothing reads the index meanwhile: run resumes
// before it commits, and a search before it searches. (A search checks
// each user the index gives it as the scan does: an entry too many could
// only slow it; one missing would lose a user.) The mark is read from
// the table, never remembered: a savepoint rolled back may have taken
// it away, or brought it back.
func (t *Tx) pauseSearch(ctx context.Context) error {
	if t.tx == nil || t.search.paused {
		return nil
	}
	_, err := t.exec(ctx, `INSERT INTO users_search_paused (since)
		SELECT COALESCE(max(id), 0) FROM users WHERE NOT EXISTS (SELECT 1 FROM users_search_paused)`)
	if err != nil {
		return fmt.Errorf("pause the search index: %w", err)
	}
	t.search.paused, t.search.resume = true, true
	return nil
}

// resumeSearch indexes the users written since pauseSearch, if this
// transaction ever paused it: each time asked, as a savepoint rolled
// back may have brought a pause back after the last resume.
func (t *Tx) resumeSearch(ctx context.Context) error {
	if !t.search.resume {
		return nil
	}
	_, err := t.exec(ctx, `INSERT INTO users_search (rowid, email_key, username_key, name_key)
		SELECT id, email_key, username_key, name_key FROM users WHERE id > (SELECT since FROM users_search_paused)`)
	if err == nil {
		_, err = t.exec(ctx, `DELETE FROM users_search_paused`)
	}
	if err != nil {
		return fmt.Errorf("resume the search index: %w", err)
	}
	t.search.paused = false
	return nil
}

// searchProblems reports a pause of the search index left in the store.
// None is ever committed (run resumes before it commits), but a store
// holding one would not index the users written after its mark. (A store
// not yet migrated has no users_search_paused.)
func (db *DB) searchProblems(ctx context.Context) ([]string, error) {
	var tables int
	err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'users_search_paused'`).Scan(&tables)
	if err != nil || tables == 0 {
		return nil, err
	}
	var since int64
	err = db.sql.QueryRowContext(ctx, `SELECT since FROM users_search_paused`).Scan(&since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("the search index is paused: users after id %d are not indexed", since)}, nil
}

// searchCandidates is the most users a search takes from the index.
// Each is then read by id and sorted by email, about seven times the cost
// per user of the scan in email order (2.3 µs against 0.33 µs for a
// million users on this project's machine): at this cap, about 20 ms.
// A search the index finds in more users than that is taken to be
// common, and scans in email order, which stops as soon as its page is
// full: at once when the users found are spread through the email order,
// after a walk through all users when they are few or far on (0.33 s for
// a million).
var searchCap = 8000 // a variable for tests

// searchMatch is the FTS5 query for the users whose keys may hold
// search: every distinct trigram (three characters) of the folded text,
// each quoted. ok is false for text shorter than a trigram, which the
// index cannot serve.
func searchMatch(search string) (match string, ok bool) {
	key := store.FoldKey(search)
	// FTS5 reads its query as C text, to the first NUL: the scan is
	// left to say what such a search finds.
	if utf8.RuneCountInString(key) < 3 || strings.ContainsRune(key, 0) {
		return "", false
	}
	var runes []int // byte offsets of the runes
	for i := range key {
		runes = append(runes, i)
	}
	runes = append(runes, len(key))
	seen := map[string]bool{}
	var terms []string
	for i := 0; i+3 < len(runes); i++ {
		tri := key[runes[i]:runes[i+3]]
		if seen[tri] {
			continue
		}
		seen[tri] = true
		terms = append(terms, `"`+strings.ReplaceAll(tri, `"`, `""`)+`"`)
	}
	return strings.Join(terms, " AND "), true
}

// searchWindow is how many of the first users in email order (after the
// cursor) a search looks through before it asks the index: 2,000 cost
// under a millisecond, and fill a page of 50 for any text at least one
// user in 40 holds, evenly spread, for which the index would find
// thousands.
var searchWindow = 2000 // a variable for tests

// searchCandidates returns a statement listing (as id) the users the
// index finds for search, and its arguments; ok is false when the index
// cannot serve search, or finds more than searchCap users, for which the
// caller scans instead. What the index finds is a superset of the users
// who match, of every organisation: the caller still checks each with
// the scan's own condition, its organisation's among them, so that the
// index decides only how fast, never what, a search finds.
func (t *Tx) searchCandidates(ctx context.Context, search string) (source string, args []any, ok bool, err error) {
	if err := t.resumeSearch(ctx); err != nil {
		return "", nil, false, err
	}
	if match, ok := searchMatch(search); ok {
		source, args = `SELECT rowid AS id FROM users_search WHERE users_search MATCH ?`, []any{match}
	} else {
		source, args, ok, err = t.searchShort(ctx, search)
		if err != nil || !ok {
			return "", nil, false, err
		}
	}
	var n int
	err = t.queryRow(ctx, `SELECT count(*) FROM (`+source+` LIMIT ?)`, append(slices.Clip(args), searchCap+1)...).Scan(&n)
	if err != nil {
		return "", nil, false, fmt.Errorf("search users: %w", err)
	}
	return source, args, n <= searchCap, nil
}

// schemaSearchShort lets the index serve texts of one or two
// characters, which hold no trigram of their own: users_search_terms
// lists the index's terms, each with the users holding it, in term
// order, so that a search finds the trigrams that hold its text
// (searchShort); and users_short_keys lists the users with a key too
// short for any trigram, whom the index does not hold at all, few.
const schemaSearchShort = `
CREATE VIRTUAL TABLE IF NOT EXISTS users_search_terms USING fts5vocab (users_search, instance);
CREATE INDEX IF NOT EXISTS users_short_keys ON users (org_id) WHERE ` + shortKeys + `;`

// shortKeys holds for a user with a key of one or two characters. (An
// empty key holds no text.)
const shortKeys = `(length(email_key) IN (1, 2) OR length(username_key) IN (1, 2) OR length(name_key) IN (1, 2))`

// searchSeeks is the most look-ups in the index's terms a search of two
// characters makes to find the trigrams holding them, about one for
// each character a term starts with (37 in the benchmark's store, about
// 0.25 ms each); past it, it scans instead.
var searchSeeks = 100 // a variable for tests

// lastRune is the greatest character: each term starting with p is at
// most p+lastRune, as terms are compared byte by byte and UTF-8 keeps
// the characters' order.
const lastRune = "\U0010FFFF"

// searchShort returns the statement listing (as id) the users a search
// of two characters may find, and its arguments: those holding a
// trigram that holds the text, and those with a key too short for a
// trigram (of the organisation, or more). A key of three characters or
// more that holds the text holds a trigram holding it: the one the text
// starts, else (at the key's end) the one it ends. So the terms sought
// start with the text (one range of users_search_terms), or are a
// character and the text (a look-up for each character a term starts
// with). ok is false when that takes more than searchSeeks look-ups, or
// for any other length of text (one character would take a look-up for
// each pair of characters a term starts with: hundreds).
func (t *Tx) searchShort(ctx context.Context, search string) (source string, args []any, ok bool, err error) {
	key := store.FoldKey(search)
	n := utf8.RuneCountInString(key)
	if n != 2 || strings.ContainsRune(key, 0) {
		return "", nil, false, nil
	}
	// One statement walks up through the terms, from each first
	// character to the term that character and the text make, then to
	// the next first character (char(unicode + 1); SQLite writes even a
	// surrogate's code, which orders between its neighbours): a row a
	// look-up, at most searchSeeks.
	rows, err := t.query(ctx, `WITH RECURSIVE walk (n, term) AS (
		SELECT 1, (SELECT term FROM users_search_terms WHERE term >= '' LIMIT 1)
		UNION ALL
		SELECT n + 1, (SELECT v.term FROM users_search_terms AS v WHERE v.term >= CASE
				WHEN walk.term < substr(walk.term, 1, 1) || ?1 THEN substr(walk.term, 1, 1) || ?1
				ELSE char(unicode(walk.term) + 1) END LIMIT 1)
		FROM walk WHERE walk.term IS NOT NULL AND n < ?2 AND instr(walk.term, char(0)) = 0
			AND (walk.term < substr(walk.term, 1, 1) || ?1 OR unicode(walk.term) < 1114111)
	) SELECT term FROM walk`, key, searchSeeks)
	if err != nil {
		return "", nil, false, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	ranges := [][2]string{{key, key + lastRune}}
	var last sql.NullString
	for rows.Next() {
		if err := rows.Scan(&last); err != nil {
			return "", nil, false, err
		}
		if last.Valid && runePrefix(last.String, 1)+key == last.String {
			ranges = append(ranges, [2]string{last.String, last.String + lastRune})
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, false, err
	}
	// The walk ends at the last term, or past the last character, or
	// else it stopped short: at searchSeeks, or at a NUL (SQLite may read
	// a bound text to its first NUL: a bound cut short would be no bound).
	if last.Valid {
		p := runePrefix(last.String, 1)
		if p != lastRune || last.String < p+key || strings.ContainsRune(last.String, 0) {
			return "", nil, false, nil
		}
	}
	for _, r := range ranges {
		if strings.ContainsRune(r[0], 0) {
			return "", nil, false, nil
		}
	}
	list, err := json.Marshal(ranges)
	if err != nil {
		return "", nil, false, err
	}
	return `SELECT doc AS id FROM json_each(?) AS r CROSS JOIN users_search_terms ON term >= r.value ->> 0 AND term <= r.value ->> 1
		UNION SELECT id FROM users WHERE org_id = ? AND ` + shortKeys, []any{string(list), t.org}, true, nil
}

// runePrefix returns the first k characters of s.
func runePrefix(s string, k int) string {
	for i := range s {
		if k == 0 {
			return s[:i]
		}
		k--
	}
	return s
}
