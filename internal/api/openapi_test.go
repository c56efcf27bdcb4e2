package api_test

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/docs"
	"github.com/roster-dev/roster/internal/api"
)

// openAPI is as much of docs/openapi.yaml as the tests read.
type openAPI struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

// operationKeys are the keys of a path item that are operations; the
// others (parameters, summary, …) are not.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseOpenAPI(t *testing.T) (openAPI, *yaml.Node) {
	t.Helper()
	var doc openAPI
	if err := yaml.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(docs.OpenAPI, &root); err != nil {
		t.Fatal(err)
	}
	return doc, &root
}

// TestOpenAPIMatchesRouter: docs/openapi.yaml documents every route the
// router serves, and the router serves every route it documents.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc, _ := parseOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("docs/openapi.yaml is OpenAPI %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(operationKeys, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	served := api.Patterns()
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("route %q is served but not in docs/openapi.yaml", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("route %q is in docs/openapi.yaml but not served (routes.go)", p)
		}
	}
}

// TestOpenAPIPathParameters: each {name} of a path is a path parameter
// of its path item or of every operation, so that clients generated from
// the document fill it in.
func TestOpenAPIPathParameters(t *testing.T) {
	doc, root := parseOpenAPI(t)
	names := func(params yaml.Node) []string {
		var list []map[string]any
		if err := params.Decode(&list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range list {
			if ref, ok := p["$ref"].(string); ok {
				n := resolve(root, ref)
				if n == nil {
					continue // TestOpenAPIRefs says so
				}
				p = nil
				if err := n.Decode(&p); err != nil {
					t.Fatal(err)
				}
			}
			if p["in"] == "path" {
				out = append(out, p["name"].(string))
			}
		}
		return out
	}
	for path, item := range doc.Paths {
		shared := names(item["parameters"])
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			for key, op := range item {
				if !slices.Contains(operationKeys, key) {
					continue
				}
				var o struct {
					Parameters yaml.Node `yaml:"parameters"`
				}
				if err := op.Decode(&o); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(shared, m[1]) && !slices.Contains(names(o.Parameters), m[1]) {
					t.Errorf("%s %s: no path parameter %s", strings.ToUpper(key), path, m[1])
				}
			}
		}
	}
}

// TestOpenAPIRefs: every $ref points at something in the document.
func TestOpenAPIRefs(t *testing.T) {
	_, root := parseOpenAPI(t)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "$ref" {
				if ref := n.Content[i+1].Value; resolve(root, ref) == nil {
					t.Errorf("docs/openapi.yaml line %d: $ref %q points at nothing", c.Line, ref)
				}
			}
			walk(c)
		}
	}
	walk(root)
}

// resolve finds a local $ref ("#/a/b") in the document, or nil.
func resolve(root *yaml.Node, ref string) *yaml.Node {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok || len(root.Content) == 0 {
		return nil
	}
	n := root.Content[0]
	for _, key := range strings.Split(rest, "/") {
		key = strings.NewReplacer("~1", "/", "~0", "~").Replace(key)
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// TestOpenAPIServed: the server serves the document it embeds, needing
// no token.
func TestOpenAPIServed(t *testing.T) {
	e := &env{t: t, h: api.New(nil, api.Options{})}
	rec := e.from("192.0.2.1:1", "GET", "/api/v1/openapi.yaml", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), docs.OpenAPI) {
		t.Errorf("GET /api/v1/openapi.yaml is not docs/openapi.yaml")
	}
}
