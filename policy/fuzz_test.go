package policy

import "testing"

// FuzzParse: any bytes give a policy that validates, or an error; never a
// panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("storageDir: s3://b/{namespace}/{clusterId}\nmode: opt-in\n"))
	f.Add([]byte("exemptNamespaces: [a, b]\nallowOptOut: false\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err != nil {
			return
		}
		if errs := p.Validate(); len(errs) > 0 {
			t.Fatalf("Parse returned a policy that does not validate: %v", errs)
		}
	})
}
