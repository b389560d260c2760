// Command demo tells the story of flink-ha-webhook in a terminal, on a real
// Kubernetes control plane started for the purpose: a Flink cluster applied
// with kubectl is stored highly available, its HA ConfigMaps lose the owner
// that would take them along, they survive the deletion of the cluster, and
// a configuration that cannot work is refused with the fix.
//
// Run it with `make demo`; it needs the binaries of `make controlplane`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

const policy = `storageDir: s3://flink-ha/{namespace}/{clusterId}
serviceAccount: flink-ha
`

const ns = "demo"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("\n\033[1m== "+format+"\033[0m\n", args...)
}

func run() error {
	start := time.Now()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	say("Starting kube-apiserver, etcd and kube-controller-manager")
	p, err := controlplane.Start(controlplane.Options{
		ControllerManager:  true,
		WebhookDirectories: []string{filepath.Join(root, "manifests", "webhook")},
	})
	if err != nil {
		return err
	}
	defer p.Stop()

	dir, err := os.MkdirTemp("", "flink-ha-webhook-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say("Building and starting flink-ha-webhook serve, with the policy:")
	fmt.Print(indent(policy))
	bin, err := controlplane.BuildWebhook(dir)
	if err != nil {
		return err
	}
	server, err := p.ServeWebhook(bin, policy)
	if err != nil {
		return err
	}
	defer server.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// kubectl runs the real kubectl; a file argument named in files is
	// written to the work directory first, as a user would have it.
	kubectl := func(files map[string]string, args ...string) error {
		fmt.Printf("\n$ kubectl %s\n", strings.Join(args, " "))
		real := append([]string{"--namespace", ns}, args...)
		for i, a := range real {
			if text, ok := files[a]; ok {
				path := filepath.Join(dir, a)
				if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
					return err
				}
				real[i] = path
			}
		}
		out, errOut, err := p.Kubectl(ctx, "", real...)
		fmt.Print(indent(errOut + out))
		return err
	}
	example := func(name string) (string, error) {
		raw, err := os.ReadFile(filepath.Join(root, "handler", "testdata", name+".in.yaml"))
		return string(raw), err
	}

	say("Apply the Flink docs' standalone session cluster, as written for a cluster without HA")
	session, err := example("standalone-session")
	if err != nil {
		return err
	}
	if err := kubectl(map[string]string{"standalone-session.yaml": session}, "apply", "-f", "standalone-session.yaml"); err != nil {
		return err
	}
	if err := kubectl(nil, "get", "configmap", "flink-config", "-o", `jsonpath={.data.flink-conf\.yaml}`); err != nil {
		return err
	}
	if err := kubectl(nil, "get", "deployment", "flink-jobmanager", "-o",
		`jsonpath=account: {.spec.template.spec.serviceAccountName}{"\n"}args: {.spec.template.spec.containers[0].args}{"\n"}`); err != nil {
		return err
	}

	say("The JobManager writes its HA ConfigMaps; an operator has made its Deployment their owner")
	uid, _, err := p.Kubectl(ctx, "", "--namespace", ns, "get", "deployment", "flink-jobmanager", "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return err
	}
	ha := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: session-cluster-config-map
  labels: {app: session, type: flink-native-kubernetes, configmap-type: high-availability}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: flink-jobmanager, uid: %s}]
data:
  counter: "7"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: session-8a4c9ad1f6c0e0b3d1b4e7e6a2f3c5d9-config-map
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: flink-jobmanager, uid: %s}]
data:
  checkpointID-0000000000000000042: s3://checkpoints/session/chk-42/_metadata
`, uid, uid)
	if err := kubectl(map[string]string{"ha-configmaps.yaml": ha}, "apply", "-f", "ha-configmaps.yaml"); err != nil {
		return err
	}

	say("Flink renews leadership every few seconds; those updates never reach the webhook")
	before, err := server.Metric(ctx, "flink_ha_webhook_admission_requests_total", "kind=ConfigMap", "operation=UPDATE")
	if err != nil {
		return err
	}
	cms := p.Clientset.CoreV1().ConfigMaps(ns)
	for i := 0; i < 10; i++ {
		cm, err := cms.Get(ctx, "session-cluster-config-map", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm.Annotations = map[string]string{"control-plane.alpha.kubernetes.io/leader": fmt.Sprintf(`{"holderIdentity":"jm-0","renewTime":"%d"}`, i)}
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	after, err := server.Metric(ctx, "flink_ha_webhook_admission_requests_total", "kind=ConfigMap", "operation=UPDATE")
	if err != nil {
		return err
	}
	fmt.Printf("   10 renewals; ConfigMap UPDATEs seen by the webhook: %v before, %v after\n", before, after)

	say("Delete the JobManager: the garbage collector takes what it owns")
	if err := kubectl(nil, "delete", "deployment", "flink-jobmanager", "--wait=true"); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		pods, err := p.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "component=jobmanager"})
		if err == nil && len(pods.Items) == 0 {
			break
		}
	}
	if err := kubectl(nil, "get", "pods,configmaps", "-l", "component!=taskmanager"); err != nil {
		return err
	}
	fmt.Println("   The HA ConfigMaps are still there: a re-applied cluster recovers its jobs from checkpoint 42.")

	say("A cluster without a cluster-id cannot be made HA; it is refused with the fix")
	broken := strings.Replace(session, "    kubernetes.cluster-id: session\n", "", 1)
	broken = broken[:strings.Index(broken, "---")]
	if err := kubectl(map[string]string{"other-config.yaml": strings.Replace(broken, "name: flink-config", "name: other-config", 1)}, "apply", "-f", "other-config.yaml"); err == nil {
		return fmt.Errorf("the ConfigMap without cluster-id was admitted")
	}

	say("A cluster whose own account may not manage ConfigMaps keeps running as it was, without HA")
	if _, err := p.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reports"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	reports := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reports-jobmanager
spec:
  selector: {matchLabels: {app: reports, component: jobmanager}}
  template:
    metadata:
      labels: {app: reports, component: jobmanager}
    spec:
      serviceAccountName: reports
      containers:
      - name: jobmanager
        image: flink:1.20
        args: [jobmanager]
        env:
        - {name: FLINK_PROPERTIES, value: "kubernetes.cluster-id: reports\n"}
`
	// The webhook asks the authorizer about a new account in the
	// background; a dry run, which stores nothing, waits for its answer.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, errOut, err := p.Kubectl(ctx, reports, "--namespace", ns, "apply", "--dry-run=server", "-f", "-"); err == nil && strings.Contains(errOut, "HA not turned on") {
			break
		}
	}
	if err := kubectl(map[string]string{"reports.yaml": reports}, "apply", "-f", "reports.yaml"); err != nil {
		return err
	}

	say("Done in %s", time.Since(start).Round(time.Second))
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "   " + strings.ReplaceAll(s, "\n", "\n   ") + "\n"
}
