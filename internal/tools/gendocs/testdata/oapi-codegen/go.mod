// The module TestOpenAPICodegen builds the client oapi-codegen generates
// from docs/openapi.yaml in: the runtime that client needs, pinned.
module roster.test/oapiclient

go 1.26.0

require (
	github.com/oapi-codegen/runtime v1.9.0
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/apapsch/go-jsonmerge/v2 v2.0.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
)
