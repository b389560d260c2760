package handler

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// AccessChecker says which of an account's needs the API server's
// authorizer refuses.
type AccessChecker interface {
	Denied(ctx context.Context, a validate.Account) ([]validate.Access, error)
}

// SubjectAccessReviews is an AccessChecker that asks the API server, one
// SubjectAccessReview per need, and remembers answers for TTL so that a
// rollout does not ask the same question for every object.
type SubjectAccessReviews struct {
	Client authorizationclient.SubjectAccessReviewInterface
	TTL    time.Duration

	mu      sync.Mutex
	answers map[validate.Account]answer
}

type answer struct {
	denied []validate.Access
	until  time.Time
}

// NewSubjectAccessReviews returns a checker that remembers answers for 30s.
func NewSubjectAccessReviews(c authorizationclient.SubjectAccessReviewInterface) *SubjectAccessReviews {
	return &SubjectAccessReviews{Client: c, TTL: 30 * time.Second}
}

// Denied implements AccessChecker.
func (s *SubjectAccessReviews) Denied(ctx context.Context, a validate.Account) ([]validate.Access, error) {
	key := validate.Account{Namespace: a.Namespace, Name: a.Name, Native: a.Native}
	s.mu.Lock()
	if ans, ok := s.answers[key]; ok && time.Now().Before(ans.until) {
		s.mu.Unlock()
		return ans.denied, nil
	}
	s.mu.Unlock()

	user := fmt.Sprintf("system:serviceaccount:%s:%s", a.Namespace, a.Name)
	denied := []validate.Access{}
	for _, need := range a.Needs() {
		review, err := s.Client.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + a.Namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.Namespace, Verb: need.Verb, Resource: need.Resource,
			},
		}}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		if !review.Status.Allowed {
			denied = append(denied, need)
		}
	}
	s.mu.Lock()
	if s.answers == nil {
		s.answers = map[validate.Account]answer{}
	}
	s.answers[key] = answer{denied: denied, until: time.Now().Add(s.TTL)}
	s.mu.Unlock()
	return denied, nil
}
