package audit

import (
	"fmt"
	"net/http"
	"strings"
)

// sarPath is the one POST the audit makes: a SubjectAccessReview is a
// question to the authorizer, which stores nothing.
const sarPath = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

// ReadOnly wraps a client transport so that it refuses every request that
// could change the cluster: only GET and HEAD pass, and POSTs of
// SubjectAccessReviews. It is the audit's promise that it never writes,
// kept in the client rather than left to the account it runs under.
func ReadOnly(rt http.RoundTripper) http.RoundTripper {
	return readOnly{rt}
}

type readOnly struct{ next http.RoundTripper }

func (r readOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.Method == http.MethodGet || req.Method == http.MethodHead:
	case req.Method == http.MethodPost && strings.TrimSuffix(req.URL.Path, "/") == sarPath:
	default:
		return nil, fmt.Errorf("the audit only reads: refused %s %s", req.Method, req.URL.Path)
	}
	return r.next.RoundTrip(req)
}
