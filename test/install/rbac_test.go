package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// mayBind reports whether user may bind the ClusterRole name.
func mayBind(ctx context.Context, t *testing.T, user, name string) bool {
	review, err := plane.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "bind", Group: rbacv1.GroupName, Resource: "clusterroles", Name: name},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

// checkFlinkRights checks that an install named name holds the ClusterRoles
// of Flink's rights as package rights lists them, and that its account may
// bind those two and no other role.
func checkFlinkRights(ctx context.Context, t *testing.T, ns, name string) {
	user := "system:serviceaccount:" + ns + ":" + name
	for _, m := range []rights.Mode{rights.Standalone, rights.Native} {
		role, err := plane.Clientset.RbacV1().ClusterRoles().Get(ctx, rights.ClusterRole(name, m), metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, rights.Rules(m, flinkconf.Supported), role.Rules, role.Name)
		assert.True(t, mayBind(ctx, t, user, role.Name), "the webhook binds %s", role.Name)
	}
	for _, other := range []string{"cluster-admin", "admin", "edit", name} {
		assert.False(t, mayBind(ctx, t, user, other), "the webhook must not bind %s", other)
	}

	// The API server's escalation check, as the webhook's account meets it:
	// a binding to Flink's rights is allowed without holding them, a
	// binding to anything else is refused.
	_, err := plane.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	cfg := rest.CopyConfig(plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	webhook, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	for role, ok := range map[string]bool{rights.ClusterRole(name, rights.Native): true, rights.ClusterRole(name, rights.Standalone): true,
		"cluster-admin": false, "system:controller:deployment-controller": false} {
		_, err := webhook.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "flink-ha"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "flink-ha", Namespace: "team"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if ok {
			assert.NoError(t, err, "the webhook binds %s", role)
		} else {
			assert.True(t, apierrors.IsForbidden(err), "the webhook must not bind %s: %v", role, err)
		}
	}
}

// TestChartRendersTheListedRights holds the chart's ClusterRoles to package
// rights for a release of any name.
func TestChartRendersTheListedRights(t *testing.T) {
	rendered, err := helm(t, "template", "other-name", chart, "--namespace", "x", "--kube-version", kubeVersion(t))
	require.NoError(t, err, rendered)
	roles := map[string]rbacv1.ClusterRole{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(rendered))))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var role rbacv1.ClusterRole
		require.NoError(t, yaml.Unmarshal(doc, &role))
		if role.Kind == "ClusterRole" {
			roles[role.Name] = role
		}
	}
	for _, m := range []rights.Mode{rights.Standalone, rights.Native} {
		assert.Equal(t, rights.Rules(m, flinkconf.Supported), roles[rights.ClusterRole("other-name", m)].Rules, m.String())
	}
	var bound []string
	for _, rule := range roles["other-name"].Rules {
		if rule.Resources[0] == "clusterroles" {
			bound = append(bound, rule.ResourceNames...)
		}
	}
	assert.Equal(t, []string{"other-name:flink-standalone", "other-name:flink-native"}, bound)
	assert.Contains(t, rendered, "--flink-cluster-role-prefix=other-name", "the webhook binds the ClusterRoles of its own release")
}
