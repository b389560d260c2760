package audit

import (
	"context"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// rights asks the API server's authorizer, one SubjectAccessReview per
// need, whether the account may do what Flink's HA needs in its mode and
// release lines: "yes", "no: may not ..." or "unknown: <why>" (the audit's
// own account may not ask). The answer for an account is asked once per
// audit.
func (a *auditor) rights(ctx context.Context, acct validate.Account) string {
	key := acct.Namespace + "/" + acct.Name + "/" + acct.Flink.String()
	if acct.Native {
		key += "/native"
	}
	if acct.HostNetwork {
		key += "/host-network"
	}
	if r, ok := a.answers[key]; ok {
		return r
	}
	var lacks []validate.Access
	for _, need := range acct.Needs() {
		resource, subresource, _ := strings.Cut(need.Resource, "/")
		review, err := a.c.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   "system:serviceaccount:" + acct.Namespace + ":" + acct.Name,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + acct.Namespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: acct.Namespace, Verb: need.Verb, Group: need.Group,
					Resource: resource, Subresource: subresource},
			}}, metav1.CreateOptions{})
		if err != nil {
			a.answers[key] = "unknown: " + err.Error()
			return a.answers[key]
		}
		if !review.Status.Allowed {
			lacks = append(lacks, need)
		}
	}
	r := "yes"
	if len(lacks) > 0 {
		r = "no: may not " + rights.Join(lacks)
	}
	a.answers[key] = r
	return r
}
