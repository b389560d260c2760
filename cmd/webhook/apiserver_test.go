package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// TestServeAsksTheAPIServerForNoCompression sends a request with the
// client configuration serve builds and reads what the API server would
// be asked: no gzip, so that it compresses neither watches nor lists. The
// same kubeconfig with client-go's default asks for gzip, which shows the
// check can fail. The server speaks TLS, as an API server does: over plain
// HTTP client-go uses Go's default transport, which always asks for gzip.
func TestServeAsksTheAPIServerForNoCompression(t *testing.T) {
	var acceptEncoding []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding = append(acceptEncoding, r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Success"}`))
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+srv.URL+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))

	get := func(cfg *rest.Config) {
		t.Helper()
		c, err := rest.HTTPClientFor(cfg)
		require.NoError(t, err)
		resp, err := c.Get(srv.URL + "/api/v1/namespaces")
		require.NoError(t, err)
		resp.Body.Close()
	}
	cfg, err := apiServerConfig(kubeconfig)
	require.NoError(t, err)
	get(cfg)
	defaults := rest.CopyConfig(cfg)
	defaults.DisableCompression = false
	get(defaults)
	assert.Equal(t, []string{"", "gzip"}, acceptEncoding, "serve's request, then client-go's default")

	_, err = apiServerConfig(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "no API server configuration (--kubeconfig, or a pod's service account): ")
}
