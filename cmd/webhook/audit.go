package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func auditCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "policy file, as given to serve, and FlinkHAPolicy documents, as inject reads them; without one the default policy")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; default $KUBECONFIG or ~/.kube/config, as kubectl")
	kubeContext := fs.String("context", "", "kubeconfig context to use")
	var namespace, output string
	fs.StringVar(&namespace, "namespace", "", "audit only this namespace; default all namespaces")
	fs.StringVar(&namespace, "n", "", "shorthand for --namespace")
	fs.StringVar(&output, "output", "table", "output format: table, json or yaml")
	fs.StringVar(&output, "o", "table", "shorthand for --output")
	chunk := fs.Int64("chunk-size", 500, "objects per list request; larger lists are paged, with a progress line on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "flink-ha-webhook: %v\n", err)
		return 2
	}
	if !slices.Contains(audit.Formats, output) {
		return fail(fmt.Errorf("--output %q is not a format: use table, json or yaml", output))
	}
	policies, err := nspolicy.Load(*policyPath)
	if err != nil {
		return fail(err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: *kubeContext}).ClientConfig()
	if err != nil {
		return fail(fmt.Errorf("no cluster to audit (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err))
	}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return audit.ReadOnly(rt) }
	var c audit.Clients
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fail(err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fail(err)
	}
	if c.Metadata, err = metadata.NewForConfig(cfg); err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := audit.Options{Namespace: namespace, Policy: policies.Default, ChunkSize: *chunk, Progress: stderr}
	if len(policies.Policies) > 0 {
		opts.PolicyFor = func(ctx context.Context, ns string) (*policy.Policy, error) {
			n, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			p, _, err := policies.For(n.Labels)
			return p, err
		}
	}
	report, err := audit.Run(ctx, c, opts)
	if err != nil {
		return fail(err)
	}
	if err := audit.Print(stdout, report, output); err != nil {
		return fail(err)
	}
	if report.AtRisk {
		return 1
	}
	return 0
}
