// Package docs holds the documents the roster binary serves itself: the
// OpenAPI description of its HTTP API. The YAML next to this file is the
// one source; the server embeds it, and a test in internal/api holds it
// to the router.
package docs

import _ "embed"

// OpenAPI is openapi.yaml, served at GET /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
