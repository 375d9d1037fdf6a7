package docs

import (
	"encoding/json"
	"testing"
)

// TestOpenAPIJSON checks that the embedded description converts to JSON
// that says it is OpenAPI 3.1, and that YAML keys that are not strings
// (an unquoted status code) become strings.
func TestOpenAPIJSON(t *testing.T) {
	b, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/api/v1/orders"] == nil {
		t.Fatalf("openapi %q, %d paths, %v", doc.OpenAPI, len(doc.Paths), err)
	}
	got, err := yamlToJSON([]byte("responses:\n  200: {description: ok}\n  true: [1, {2: x}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"responses":{"200":{"description":"ok"},"true":[1,{"2":"x"}]}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := yamlToJSON([]byte("a: [")); err == nil {
		t.Fatal("broken YAML accepted")
	}
}
