package audit

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadOnlyRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	reached := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	defer srv.Close()
	client := &http.Client{Transport: ReadOnly(http.DefaultTransport)}
	cases := map[string]struct {
		method, path string
		allowed      bool
	}{
		"a list passes":                           {http.MethodGet, "/api/v1/configmaps", true},
		"a HEAD passes":                           {http.MethodHead, "/api/v1/namespaces/a/configmaps/x", true},
		"a SubjectAccessReview is a question":     {http.MethodPost, "/apis/authorization.k8s.io/v1/subjectaccessreviews", true},
		"creating anything else is refused":       {http.MethodPost, "/api/v1/namespaces/a/configmaps", false},
		"an update is refused":                    {http.MethodPut, "/api/v1/namespaces/a/configmaps/x", false},
		"a patch is refused":                      {http.MethodPatch, "/apis/apps/v1/namespaces/a/deployments/x", false},
		"a delete is refused":                     {http.MethodDelete, "/api/v1/namespaces/a/configmaps/x", false},
		"a review under another path is a create": {http.MethodPost, "/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews", false},
	}
	for name, tc := range cases {
		before := reached
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		assert.NoError(t, err, name)
		resp, err := client.Do(req)
		if tc.allowed {
			assert.NoError(t, err, name)
			resp.Body.Close()
			assert.Equal(t, before+1, reached, name)
			continue
		}
		assert.ErrorContains(t, err, "the audit only reads: refused "+tc.method+" "+tc.path, name)
		assert.Equal(t, before, reached, name)
	}
}
