package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// benchObjects are reviews of the objects the API server sends most.
var benchObjects = map[string]string{
	"Deployment": `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"flink-jobmanager"},"spec":{"replicas":1,` +
		`"selector":{"matchLabels":{"app":"flink","component":"jobmanager"}},"template":{"metadata":{"labels":{"app":"flink","component":"jobmanager"}},` +
		`"spec":{"containers":[{"name":"jobmanager","image":"flink:1.20","args":["jobmanager"],"ports":[{"containerPort":6123,"name":"rpc"}],` +
		`"volumeMounts":[{"name":"flink-config-volume","mountPath":"/opt/flink/conf"}]}],"volumes":[{"name":"flink-config-volume","configMap":{"name":"flink-config"}}]}}}}`,
	"ConfigMap": `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"flink-config"},"data":{"flink-conf.yaml":` +
		`"jobmanager.rpc.address: flink-jobmanager\nkubernetes.cluster-id: reports\ntaskmanager.numberOfTaskSlots: 2\nparallelism.default: 2\n"}}`,
}

func benchReview(kind, group, object string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b1",`+
		`"kind":{"group":%q,"version":"v1","kind":%q},"resource":{"group":%q,"version":"v1","resource":"x"},"namespace":"team",`+
		`"operation":"CREATE","userInfo":{"username":"bench"},"object":%s}}`, group, kind, group, object)
}

// noop admits everything: the floor.
type noop struct{}

func (noop) Handle(context.Context, admission.Request) admission.Response {
	return admission.Allowed("")
}

// BenchmarkServeTLS measures a review from the client's bytes to its
// answer through the real HTTPS server and TLS, over HTTP/2 as the API
// server talks and over HTTP/1.1, for a no-op handler, this project's
// handlers, and the same handlers behind controller-runtime's
// admission.Webhook (which serve used before): read the ratios to noop.
func BenchmarkServeTLS(b *testing.B) {
	dir := b.TempDir()
	writeCert(b, dir, "bench")
	p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\n"))
	require.NoError(b, err)
	limit := handler.NewLimiter(4, 2*time.Second)
	mux := http.NewServeMux()
	mux.Handle("/noop", handler.Serve("noop", noop{}, limit))
	mux.Handle("/mutate", handler.Serve("mutate", handler.Mutating(p), limit))
	mux.Handle("/validate", handler.Serve("validate", handler.Validating(p, nil), limit))
	mux.Handle("/cr/noop", handler.Capped(&admission.Webhook{Handler: noop{}}))
	mux.Handle("/cr/mutate", handler.Capped(&admission.Webhook{Handler: handler.Mutating(p)}))
	mux.Handle("/cr/validate", handler.Capped(&admission.Webhook{Handler: handler.Validating(p, nil)}))
	srv := newHTTPSServer("127.0.0.1:0", dir, mux, 64, time.Second, logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.listening
	addr := srv.boundAddr.String()

	for _, proto := range []string{"h2", "http1"} {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the benchmark's own certificate, on loopback
			ForceAttemptHTTP2: proto == "h2",
		}}
		for _, kind := range []string{"Deployment", "ConfigMap"} {
			group := map[string]string{"Deployment": "apps", "ConfigMap": ""}[kind]
			body := benchReview(kind, group, benchObjects[kind])
			for _, path := range []string{"/noop", "/mutate", "/validate", "/cr/noop", "/cr/mutate", "/cr/validate"} {
				b.Run(proto+"/"+kind+path, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						resp, err := client.Post("https://"+addr+path, "application/json", bytes.NewReader(body))
						if err != nil {
							b.Fatal(err)
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Fatalf("status %d", resp.StatusCode)
						}
					}
				})
			}
		}
		client.CloseIdleConnections()
	}
}
