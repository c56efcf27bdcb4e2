// Command gendocs writes roster's man pages and shell completion scripts
// from its command tree, and the organisation-scoped copies of the API's
// routes in its OpenAPI document:
//
//	go run ./internal/tools/gendocs man completions docs/openapi.yaml
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gendocs MANDIR COMPLETIONSDIR OPENAPI")
		os.Exit(2)
	}
	err := GenerateDocs(os.Args[1], os.Args[2])
	if err == nil {
		err = GenerateOpenAPI(os.Args[3])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
