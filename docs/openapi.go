// Package docs carries the documents the binary serves: the OpenAPI
// description of the API (openapi.yaml), embedded so that a running
// server describes exactly the API it was built with.
package docs

import (
	"encoding/json"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"

	_ "embed"
)

// OpenAPIYAML is docs/openapi.yaml as written.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIJSON returns the OpenAPI description as JSON, converted once.
var OpenAPIJSON = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(OpenAPIYAML) })

// yamlToJSON converts a YAML document to JSON. Mapping keys become
// strings (YAML allows others, JSON does not).
func yamlToJSON(src []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, fmt.Errorf("docs: parse YAML: %w", err)
	}
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		return nil, fmt.Errorf("docs: encode JSON: %w", err)
	}
	return b, nil
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
		return v
	default:
		return v
	}
}
