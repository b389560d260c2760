// Command bench measures, on the test bed, what flink-ha-webhook costs the
// API server: the same Flink objects created with no webhook, with a no-op
// webhook (test/bench/noop, a process of its own) served at the same
// endpoint with the same certificate, with that no-op answering every
// mutating review with a one-annotation patch (the floor of any webhook
// that changes objects), and with flink-ha-webhook's serve, in
// alternating rounds of one run, so that the ratios hold on a noisy
// machine. Both webhooks are built as the Dockerfile builds the image and
// run with manifests/deployment.yaml's environment. It prints per-object
// latency, the API server's own measure of each webhook call, the webhook
// calls that an unchanged re-apply and the deployment controller's updates
// cost, the CPU the API server and the webhook use, serve's requests to
// the API server, and the webhooks' memory. Everything runs on loopback; `make bench-e2e` runs it
// from the module root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; each runs every mode once, in a rotating order")
	flag.IntVar(&cfg.perKind, "objects", 100, "objects of each kind in the sequential workload")
	flag.IntVar(&cfg.concurrent, "concurrent-objects", 1000, "objects in the concurrent workload")
	flag.IntVar(&cfg.clients, "clients", 8, "clients of the concurrent workload")
	flag.StringVar(&cfg.profile.dir, "profile", "", "directory for CPU and heap profiles of serve, one pair per round of serve")
	flag.IntVar(&cfg.profile.seconds, "profile-seconds", 8, "length of each CPU profile, from the start of a round of serve")
	flag.Func("serve-flag", "a flag added to serve's (repeatable), e.g. -serve-flag=--safety-net=false to see what a part costs", func(v string) error {
		cfg.serveFlags = append(cfg.serveFlags, v)
		return nil
	})
	flag.BoolVar(&cfg.patching, "patching-noop", true, "also run the no-op webhook answering mutating reviews with a one-annotation patch")
	timeout := flag.Duration("timeout", 25*time.Minute, "give up after this long")
	flag.Parse()
	// The webhook's explanations and envtest's logs are not what this
	// program measures.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	ctrllog.SetLogger(ctrllog.Log.WithSink(ctrllog.NullLogSink{}))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
