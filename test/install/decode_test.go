package install

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// decodeKind decodes the first document of kind in a YAML stream (a kubectl
// -o yaml List's items included) into obj.
func decodeKind(stream, kind string, obj any) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(stream))))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("no %s in the stream", kind)
		}
		if err != nil {
			return err
		}
		var list struct {
			metav1.TypeMeta
			Items []map[string]any `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			return err
		}
		if list.Kind == kind {
			return yaml.Unmarshal(doc, obj)
		}
		for _, item := range list.Items {
			if item["kind"] == kind {
				raw, err := yaml.Marshal(item)
				if err != nil {
					return err
				}
				return yaml.Unmarshal(raw, obj)
			}
		}
	}
}
