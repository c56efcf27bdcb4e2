// Command gendocs writes roster's man pages and shell completion scripts
// from its command tree: go run ./internal/tools/gendocs man completions
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gendocs MANDIR COMPLETIONSDIR")
		os.Exit(2)
	}
	if err := GenerateDocs(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
