package store

// Scanner is one row of a query: *sql.Row, *sql.Rows or pgx.Row.
type Scanner interface{ Scan(dest ...any) error }

// scanFunc is a Scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// ScanJoined scans a row of first's columns followed by second's, as a
// join returns them (a token, or a session, with its user): second's
// Scan runs first's, which scans the whole row into both sets of
// columns; each then finishes its own.
func ScanJoined[A, B any](row Scanner, first func(Scanner) (A, error), second func(Scanner) (B, error)) (A, B, error) {
	var a A
	b, err := second(scanFunc(func(secondDest ...any) error {
		var err error
		a, err = first(scanFunc(func(dest ...any) error {
			return row.Scan(append(dest, secondDest...)...)
		}))
		return err
	}))
	return a, b, err
}
