package audit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
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

// TestRunThroughTheReadOnlyGuard runs the audit through ReadOnly against
// an HTTP server that answers every list empty: the audit makes only its
// lists, each a page of Options.ChunkSize (500 when unset, as kubectl).
func TestRunThroughTheReadOnlyGuard(t *testing.T) {
	t.Parallel()
	for chunk, limit := range map[int64]string{0: "500", -1: "500", 2: "2"} {
		var requests []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests = append(requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
			list := map[string]string{"configmaps": "meta.k8s.io/v1 PartialObjectMetadataList", "deployments": "apps/v1 DeploymentList",
				"statefulsets": "apps/v1 StatefulSetList", "jobs": "batch/v1 JobList", "flinkdeployments": "flink.apache.org/v1beta1 FlinkDeploymentList"}
			apiVersion, kind, _ := strings.Cut(list[path.Base(r.URL.Path)], " ")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"kind": %q, "apiVersion": %q, "metadata": {}, "items": []}`, kind, apiVersion)
		}))
		cfg := &rest.Config{Host: srv.URL, WrapTransport: ReadOnly}
		var c Clients
		var err error
		c.Kube, err = kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		c.Dynamic, err = dynamic.NewForConfig(cfg)
		require.NoError(t, err)
		c.Metadata, err = metadata.NewForConfig(cfg)
		require.NoError(t, err)
		got, err := Run(context.Background(), c, Options{ChunkSize: chunk})
		srv.Close()
		require.NoError(t, err)
		assert.Equal(t, &Report{Clusters: []Cluster{}, Collisions: []fleet.Collision{}}, got)
		assert.Equal(t, []string{
			"GET /api/v1/configmaps?limit=" + limit,
			"GET /apis/apps/v1/deployments?limit=" + limit,
			"GET /apis/apps/v1/statefulsets?limit=" + limit,
			"GET /apis/batch/v1/jobs?limit=" + limit,
			"GET /apis/flink.apache.org/v1beta1/flinkdeployments?limit=" + limit,
		}, requests, "chunk size %d", chunk)
	}
}
