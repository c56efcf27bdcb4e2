package sqlite

import (
	"context"
	"fmt"
	"strconv"
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
// (see searchIDs). Triggers keep the index in the transaction of every
// write to users, whichever statement makes it.
//
// A search the index cannot serve (under three characters) or finds
// everywhere scans users in email order until its page is full: the
// index users_search_keys holds all the scan reads, so that it walks one
// index instead of looking up each user's row, ten times faster (0.33 s
// instead of 3 s for a million users on this project's machine).
// (IF NOT EXISTS: a store rewound to an older version by a test migrates
// again.)
const schemaSearch = `
CREATE INDEX IF NOT EXISTS users_search_keys ON users (email_key, username_key, name_key, status);
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

// searchCandidates is the most users a search takes from the index. Each
// is then read by id and sorted by email, about ten times the cost per
// user of the scan in email order; a search the index finds in more
// users than this is common enough for that scan to fill a page soon
// (both cost about 8 ms when 2,000 of a million users, spread evenly in
// email order, hold the text), and takes it.
var searchCandidates = 2000 // a variable for tests

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

// searchIDs returns, as a JSON array, the ids of the users the index
// says may match search: a superset of those that do, as a user holding
// the text holds each of its trigrams. ok is false when the index cannot
// serve search (too short), or finds it in more than searchCandidates
// users. The caller still checks each user with the scan's own condition,
// so the index decides only how fast, never what, a search finds.
func (t *Tx) searchIDs(ctx context.Context, search string) (ids string, ok bool, err error) {
	match, ok := searchMatch(search)
	if !ok {
		return "", false, nil
	}
	rows, err := t.query(ctx, `SELECT rowid FROM users_search WHERE users_search MATCH ? LIMIT ?`, match, searchCandidates+1)
	if err != nil {
		return "", false, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	b := []byte{'['}
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return "", false, err
		}
		if n++; n > searchCandidates {
			return "", false, nil
		}
		if n > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("search users: %w", err)
	}
	return string(append(b, ']')), true, nil
}
