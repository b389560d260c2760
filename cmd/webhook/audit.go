package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

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
	if output != "table" && output != "json" && output != "yaml" {
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
	if err := printReport(stdout, report, output); err != nil {
		return fail(err)
	}
	if report.AtRisk {
		return 1
	}
	return 0
}

func printReport(w io.Writer, r *audit.Report, output string) error {
	switch output {
	case "json":
		raw, err := json.MarshalIndent(r, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	case "yaml":
		raw, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(raw)
		return err
	}
	if len(r.Clusters) == 0 {
		_, err := fmt.Fprintln(w, "No Flink clusters found.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tCLUSTER-ID\tMODE\tFLINK\tHA\tSTORAGE-DIR\tACCOUNT\tHA-RIGHTS\tHA-CONFIGMAPS\tPOLICY\tAT-RISK")
	for _, c := range r.Clusters {
		owned := 0
		for _, h := range c.HAConfigMaps {
			if len(h.Owners) > 0 {
				owned++
			}
		}
		cms := fmt.Sprint(len(c.HAConfigMaps))
		if owned > 0 {
			cms += fmt.Sprintf(" (%d owned)", owned)
		}
		rights, _, _ := strings.Cut(c.Rights, ":")
		policyCol := c.Policy.Result
		if n := len(c.Policy.Violations); n > 0 {
			policyCol += fmt.Sprintf(" (%d)", n)
		} else if n := len(c.Policy.Changes); n > 0 {
			policyCol += fmt.Sprintf(" (%d)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Namespace, none(c.ClusterID), none(string(c.Mode)),
			none(c.FlinkVersion), none(string(c.HA)), none(c.StorageDir), none(c.Account), none(rights), cms, policyCol,
			none(strings.Join(c.AtRisk, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Collisions) > 0 {
		fmt.Fprintln(w, "\nCollisions:")
		for _, c := range r.Collisions {
			fmt.Fprintln(w, "  "+c.Message())
		}
	}
	return nil
}

// none prints an empty value as kubectl does.
func none(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
