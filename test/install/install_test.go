package install

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

var plane *controlplane.Plane

func TestMain(m *testing.M) {
	crds, err := controlplane.CertManagerCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(controlplane.Run(m, controlplane.Options{CRDDirectories: []string{crds}}, &plane))
}

func allowed(ctx context.Context, t *testing.T, user, namespace, verb, group, resource string) bool {
	review, err := plane.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			Groups:             []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: group, Resource: resource},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

// checkInstall checks what any install of the webhook, named name in
// namespace ns, must have put in the cluster.
func checkInstall(ctx context.Context, t *testing.T, ns, name string) {
	user := "system:serviceaccount:" + ns + ":" + name
	d, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	pod := d.Spec.Template.Spec
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
	assert.NotNil(t, pod.Affinity.PodAntiAffinity)
	c := pod.Containers[0]
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.False(t, c.Resources.Requests.Cpu().IsZero())

	_, err = plane.Clientset.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
	assert.NoError(t, err)
	_, err = plane.Clientset.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	assert.NoError(t, err)

	mutating, err := plane.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, ns+"/"+name, mutating.Annotations["cert-manager.io/inject-ca-from"])
	for _, w := range mutating.Webhooks {
		assert.Equal(t, ns, w.ClientConfig.Service.Namespace, w.Name)
	}
	_, err = plane.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)

	dyn, err := dynamic.NewForConfig(plane.Config)
	require.NoError(t, err)
	cert, err := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}).
		Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, name+"-tls", cert.Object["spec"].(map[string]any)["secretName"])

	// The webhook's own account: what its reconcilers need, and not more.
	for _, ok := range []struct{ namespace, verb, group, resource string }{
		{"team", "patch", "", "configmaps"}, {"team", "watch", "", "configmaps"}, {"team", "create", "", "serviceaccounts"},
		{"team", "create", "rbac.authorization.k8s.io", "rolebindings"}, {"team", "list", "rbac.authorization.k8s.io", "rolebindings"},
		{"team", "watch", "rbac.authorization.k8s.io", "rolebindings"},
		{"team", "delete", "", "serviceaccounts"}, {"team", "update", "", "serviceaccounts"},
		{"team", "watch", "apps", "deployments"}, {"team", "watch", "flink.apache.org", "flinkdeployments"},
		{ns, "update", "coordination.k8s.io", "leases"}, {"", "create", "authorization.k8s.io", "subjectaccessreviews"},
	} {
		assert.True(t, allowed(ctx, t, user, ok.namespace, ok.verb, ok.group, ok.resource), "the webhook needs to %s %s", ok.verb, ok.resource)
	}
	for _, no := range []struct{ namespace, verb, group, resource string }{
		{"team", "get", "", "secrets"}, {"team", "create", "", "pods"}, {"team", "update", "apps", "deployments"},
		{"team", "create", "coordination.k8s.io", "leases"}, {"", "create", "rbac.authorization.k8s.io", "clusterrolebindings"},
		{"team", "escalate", "rbac.authorization.k8s.io", "roles"}, {"team", "bind", "rbac.authorization.k8s.io", "roles"},
		{"team", "create", "rbac.authorization.k8s.io", "roles"}, {"team", "update", "", "configmaps"}, {"team", "delete", "apps", "deployments"},
	} {
		assert.False(t, allowed(ctx, t, user, no.namespace, no.verb, no.group, no.resource), "the webhook must not %s %s in %q", no.verb, no.resource, no.namespace)
	}
	checkFlinkRights(ctx, t, ns, name)
}

func TestKustomizeInstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, err := plane.Kubectl(ctx, "", "apply", "-k", "../../manifests")
	require.NoError(t, err)
	assert.Contains(t, out, "deployment.apps/flink-ha-webhook created")
	checkInstall(ctx, t, "flink-ha-webhook", "flink-ha-webhook")

	// kubectl diff exits 0 with nothing to say when applying again would
	// change nothing.
	out, _, err = plane.Kubectl(ctx, "", "diff", "-k", "../../manifests")
	assert.NoError(t, err, "a second install would change: %s", out)
	assert.Empty(t, out)
}
