package handler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// AccessChecker says which of an account's needs the API server's
// authorizer refuses.
type AccessChecker interface {
	Denied(ctx context.Context, a validate.Account) ([]validate.Access, error)
}

// ErrNotChecked is the answer for an account whose rights are not known
// yet and did not arrive within the review's short wait: the question goes
// on in the background and never holds up admission any longer.
var ErrNotChecked = errors.New("the API server's authorizer has not answered yet; " +
	"the webhook asks it in the background and reports what the account lacks on the next change of this object, " +
	"which is admitted meanwhile")

// SubjectAccessReviews is an AccessChecker that answers admission from
// what it already knows and asks the API server in the background, so that
// admission waits for the authorizer only briefly, for the first review of
// an account, however many Flink objects arrive at once:
//   - answers live in a bounded LRU cache; an answer older than Refresh is
//     still given and asked again in the background; one older than TTL is
//     gone;
//   - a failed check is remembered for FailureTTL, so an unreachable API
//     server is not asked again by every request;
//   - a fixed number of workers ask, one question per account at a time
//     (requests for an account already queued or being asked are merged),
//     every need of the account in parallel; when the queue is full the
//     question is dropped and asked by a later request;
//   - a review of an account with no answer yet waits for the workers'
//     answer up to FirstWait (never past its context's deadline), so the
//     first object under an account gets the real answer whenever the
//     authorizer is quick; every review waiting on one account shares one
//     question. Past the wait, when the queue is full, or when MaxWaiting
//     reviews wait already, the answer is ErrNotChecked and the question
//     goes on without the review.
//
// Start runs the workers; questions asked before it wait in the queue.
type SubjectAccessReviews struct {
	client authorizationclient.SubjectAccessReviewInterface

	// Refresh, TTL and FailureTTL are read by Start's workers and Denied;
	// set them before Start.
	Refresh, TTL, FailureTTL time.Duration
	// FirstWait bounds how long a review of an account without an answer
	// waits for one; zero never waits. Set it before the first Denied.
	FirstWait time.Duration
	// MaxWaiting is how many reviews may wait for an answer at once; one
	// more gets ErrNotChecked at once. A waiting review holds one of the
	// server's review slots (handler.Limiter), so a burst of new accounts
	// with a slow authorizer must not take them all. Set it before the
	// first Denied.
	MaxWaiting int
	// Workers is how many accounts are asked about at once.
	Workers int

	answers *cache.LRUExpireCache
	queue   chan accountKey

	mu      sync.Mutex
	pending map[accountKey]*question // queued or being asked; at most cap(queue)+Workers
	waiting atomic.Int64             // reviews in await
}

// question is one queued or running check of an account: done is closed
// once ans holds what the check found (an answer or its failure).
type question struct {
	done chan struct{}
	ans  answer
}

// accountKey is what an answer depends on: the account and its needs,
// which its role, mode and release lines decide (one account may run a
// cluster's JobManager and another's TaskManagers). The field that names
// the account is not part of it.
type accountKey struct {
	namespace, name                  string
	taskManager, native, hostNetwork bool
	flink                            flinkconf.Range
}

func keyOf(a validate.Account) accountKey {
	return accountKey{namespace: a.Namespace, name: a.Name, taskManager: a.TaskManager, native: a.Native, hostNetwork: a.HostNetwork, flink: a.Flink}
}

func (k accountKey) account() validate.Account {
	return validate.Account{Namespace: k.namespace, Name: k.name, TaskManager: k.taskManager, Native: k.native, HostNetwork: k.hostNetwork, Flink: k.flink}
}

type answer struct {
	denied []validate.Access
	err    error
	at     time.Time
}

// Bounds of the checker's memory and work.
const (
	maxAnswers   = 4096
	maxQueued    = 256
	checkTimeout = 10 * time.Second
)

// NewSubjectAccessReviews returns a checker asking through c, with answers
// refreshed after 30 s, forgotten after 10 min, failures remembered for
// 10 s, a first review waiting up to 1 s, at most 2 reviews waiting at
// once and 4 workers.
func NewSubjectAccessReviews(c authorizationclient.SubjectAccessReviewInterface) *SubjectAccessReviews {
	return &SubjectAccessReviews{
		client:  c,
		Refresh: 30 * time.Second, TTL: 10 * time.Minute, FailureTTL: 10 * time.Second,
		FirstWait: time.Second, MaxWaiting: 2, Workers: 4,
		answers: cache.NewLRUExpireCache(maxAnswers),
		queue:   make(chan accountKey, maxQueued),
		pending: map[accountKey]*question{},
	}
}

// NewSubjectAccessReviewsForConfig is NewSubjectAccessReviews with a client
// of its own, whose rate limit fits the parallel questions of the workers
// without queueing behind the reconcilers' requests.
func NewSubjectAccessReviewsForConfig(cfg *rest.Config) (*SubjectAccessReviews, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	c, err := authorizationclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return NewSubjectAccessReviews(c.SubjectAccessReviews()), nil
}

// Denied implements AccessChecker. A known answer is given at once; an
// unknown one is waited for up to FirstWait or ctx's end, whichever comes
// first.
func (s *SubjectAccessReviews) Denied(ctx context.Context, a validate.Account) ([]validate.Access, error) {
	k := keyOf(a)
	v, ok := s.answers.Get(k)
	if !ok {
		return s.await(ctx, s.ask(k))
	}
	ans := v.(answer)
	if ans.err == nil && time.Since(ans.at) > s.Refresh {
		s.ask(k)
	}
	return ans.denied, ans.err
}

// await waits for q's answer up to FirstWait and ctx's end, unless
// MaxWaiting reviews wait already. A nil q (the queue was full) is not
// waited for.
func (s *SubjectAccessReviews) await(ctx context.Context, q *question) ([]validate.Access, error) {
	if q == nil || s.FirstWait <= 0 {
		return nil, ErrNotChecked
	}
	if s.waiting.Add(1) > int64(s.MaxWaiting) {
		s.waiting.Add(-1)
		return nil, ErrNotChecked
	}
	defer s.waiting.Add(-1)
	wait := time.NewTimer(s.FirstWait)
	defer wait.Stop()
	select {
	case <-q.done:
		return q.ans.denied, q.ans.err
	case <-wait.C:
	case <-ctx.Done():
	}
	return nil, ErrNotChecked
}

// ask queues a question about k unless one is queued or being asked, and
// returns the question; nil when the queue is full.
func (s *SubjectAccessReviews) ask(k accountKey) *question {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.pending[k]; q != nil {
		return q
	}
	// The caller found no answer, or a stale one; a worker may have cached
	// a fresh one since, before it let go of its question (check): that
	// one is the answer, not a second question.
	if v, ok := s.answers.Get(k); ok {
		if ans := v.(answer); ans.err != nil || time.Since(ans.at) <= s.Refresh {
			q := &question{done: make(chan struct{}), ans: ans}
			close(q.done)
			return q
		}
	}
	q := &question{done: make(chan struct{})}
	select {
	case s.queue <- k:
		s.pending[k] = q
		return q
	default: // full: a later request asks again
		return nil
	}
}

// Start runs the workers until ctx ends (manager.Runnable).
func (s *SubjectAccessReviews) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case k := <-s.queue:
					s.check(ctx, k)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: every replica serves admission.
func (s *SubjectAccessReviews) NeedLeaderElection() bool { return false }

// check asks about every need of k in parallel, stores the answer and
// hands it to the reviews waiting for it. A failure does not replace an
// earlier answer that is still kept, but is what the waiting reviews get.
func (s *SubjectAccessReviews) check(ctx context.Context, k accountKey) {
	var ans answer
	defer func() {
		s.mu.Lock()
		q := s.pending[k]
		delete(s.pending, k)
		s.mu.Unlock()
		if q != nil { // always, as only ask queues
			q.ans = ans
			close(q.done)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	a := k.account()
	needs := a.Needs()
	allowed := make([]bool, len(needs))
	errs := make([]error, len(needs))
	var wg sync.WaitGroup
	for i, need := range needs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			allowed[i], errs[i] = s.review(ctx, a, need)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		logf.FromContext(ctx).Info("could not check the rights of an account Flink runs under", "namespace", a.Namespace, "serviceAccount", a.Name, "error", err.Error())
		ans = answer{err: fmt.Errorf("the API server's authorizer could not be asked (%w); "+
			"the webhook asks again within %s and admits meanwhile", errs[firstError(errs)], s.FailureTTL), at: time.Now()}
		if _, ok := s.answers.Get(k); !ok {
			s.answers.Add(k, ans, s.FailureTTL)
		}
		return
	}
	denied := []validate.Access{}
	for i, ok := range allowed {
		if !ok {
			denied = append(denied, needs[i])
		}
	}
	ans = answer{denied: denied, at: time.Now()}
	s.answers.Add(k, ans, s.TTL)
}

func firstError(errs []error) int {
	for i, err := range errs {
		if err != nil {
			return i
		}
	}
	return 0
}

func (s *SubjectAccessReviews) review(ctx context.Context, a validate.Account, need validate.Access) (bool, error) {
	resource, subresource, _ := strings.Cut(need.Resource, "/") // deployments/finalizers
	review, err := s.client.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + a.Namespace + ":" + a.Name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + a.Namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: a.Namespace, Verb: need.Verb, Group: need.Group, Resource: resource, Subresource: subresource,
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}
