package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// authorizer stands in for the API server's answers to SubjectAccessReviews,
// which the end-to-end tests take from the real authorizer; here what is
// ours is tested: when and how often the checker asks.
type authorizer struct {
	allow   func(authorizationv1.ResourceAttributes) bool
	fail    atomic.Bool
	release chan struct{} // when set, every answer waits for a value sent or its close
	calls   atomic.Int64
	mu      sync.Mutex
	asked   []authorizationv1.ResourceAttributes
}

func (z *authorizer) checker(t *testing.T) *SubjectAccessReviews {
	c := fake.NewClientset()
	c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		z.calls.Add(1)
		if z.release != nil {
			<-z.release
		}
		if z.fail.Load() {
			return true, nil, errors.New("connection refused")
		}
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		attrs := *sar.Spec.ResourceAttributes
		z.mu.Lock()
		z.asked = append(z.asked, attrs)
		z.mu.Unlock()
		sar.Status.Allowed = z.allow(attrs)
		return true, sar, nil
	})
	s := NewSubjectAccessReviews(c.AuthorizationV1().SubjectAccessReviews())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Start(ctx) }()
	return s
}

func configMapsOnly(a authorizationv1.ResourceAttributes) bool { return a.Resource == "configmaps" }

var team = validate.Account{Namespace: "team", Name: "mine", Flink: flinkconf.Exactly(flinkconf.V1_20)}

// answered waits until the checker knows an answer about a.
func answered(t *testing.T, s *SubjectAccessReviews, a validate.Account) ([]validate.Access, error) {
	var denied []validate.Access
	var err error
	require.Eventually(t, func() bool {
		denied, err = s.Denied(context.Background(), a)
		return !errors.Is(err, ErrNotChecked)
	}, 5*time.Second, time.Millisecond)
	return denied, err
}

// patient is long enough for any answer of the fake authorizer on a busy
// machine: an upper bound, never the time a test takes.
const patient = time.Minute

func TestAccessCheckFirstReviewWaitsForTheAnswer(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly}
	s := z.checker(t)
	s.FirstWait = patient
	denied, err := s.Denied(context.Background(), team)
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{}, denied, "a 1.20 standalone account with every ConfigMap right lacks nothing")

	native := validate.Account{Namespace: "team", Name: "mine", Native: true}
	denied, err = s.Denied(context.Background(), native)
	require.NoError(t, err)
	assert.Equal(t, rights.Needs(rights.Native, flinkconf.Supported)[len(rights.Needs(rights.Standalone, flinkconf.Supported)):], denied, "a native account also needs pods and its Deployment")
	assert.Contains(t, z.asked, authorizationv1.ResourceAttributes{Namespace: "team", Verb: "update", Group: "apps", Resource: "deployments", Subresource: "finalizers"})
}

// TestAccessCheckTellsTheRolesApart: one account may run a cluster's
// TaskManagers and another's JobManager; the answers are kept apart, and
// the TaskManagers' question asks only what they need.
func TestAccessCheckTellsTheRolesApart(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: func(a authorizationv1.ResourceAttributes) bool {
		return a.Resource == "configmaps" && (a.Verb == "list" || a.Verb == "watch")
	}}
	s := z.checker(t)
	s.FirstWait = patient
	workers := validate.Account{Namespace: "team", Name: "mine", TaskManager: true, Flink: team.Flink}
	denied, err := s.Denied(context.Background(), workers)
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{}, denied, "TaskManagers only list and watch")
	z.mu.Lock()
	assert.ElementsMatch(t, []authorizationv1.ResourceAttributes{
		{Namespace: "team", Verb: "list", Resource: "configmaps"}, {Namespace: "team", Verb: "watch", Resource: "configmaps"},
	}, z.asked, "nothing else is asked for TaskManagers")
	z.mu.Unlock()

	denied, err = s.Denied(context.Background(), team)
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{{Resource: "configmaps", Verb: "get"}, {Resource: "configmaps", Verb: "create"}, {Resource: "configmaps", Verb: "update"},
		{Resource: "configmaps", Verb: "patch"}, {Resource: "configmaps", Verb: "delete"}}, denied,
		"the same account running a JobManager is asked again, for a JobManager's needs")

	native := validate.Account{Namespace: "team", Name: "mine", Native: true, Flink: team.Flink}
	denied, err = s.Denied(context.Background(), native)
	require.NoError(t, err)
	onHost := native
	onHost.HostNetwork = true
	deniedOnHost, err := s.Denied(context.Background(), onHost)
	require.NoError(t, err)
	assert.Equal(t, append(denied, validate.Access{Resource: "services", Verb: "get"}, validate.Access{Resource: "services", Verb: "update"}), deniedOnHost,
		"a native JobManager on the host network is asked again, for its Service too")
}

func TestAccessCheckWaitsNoLongerThanFirstWait(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = 10 * time.Millisecond // the authorizer answers only when released
	start := time.Now()
	denied, err := s.Denied(context.Background(), team)
	assert.Less(t, time.Since(start), patient, "the wait ends before the authorizer answers")
	assert.Nil(t, denied)
	assert.ErrorIs(t, err, ErrNotChecked, "an answer not known yet is no denial")
	close(z.release)

	denied, err = answered(t, s, team)
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{}, denied, "the question went on without the review, and a later one gets its answer")
	assert.Equal(t, int64(len(team.Needs())), z.calls.Load(), "asked once")
}

func TestAccessCheckGivesAKnownAnswerAtOnce(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{}, len(team.Needs()))}
	s := z.checker(t)
	s.FirstWait = patient
	for range team.Needs() {
		z.release <- struct{}{} // the first question is answered, no other
	}
	denied, err := s.Denied(context.Background(), team)
	require.NoError(t, err)
	require.Equal(t, []validate.Access{}, denied)

	s.Refresh = 0 // every answer is due for a refresh, which the authorizer holds up
	start := time.Now()
	for range 3 {
		denied, err = s.Denied(context.Background(), team)
		require.NoError(t, err)
		assert.Equal(t, []validate.Access{}, denied, "the known answer")
	}
	assert.Less(t, time.Since(start), patient, "a known answer waits for no refresh")
	require.Eventually(t, func() bool { return z.calls.Load() > int64(len(team.Needs())) }, patient, time.Millisecond,
		"the refresh is asked in the background")
	close(z.release)
}

func TestAccessCheckHonoursTheReviewsDeadline(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = patient
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Denied(ctx, team)
	assert.Less(t, time.Since(start), patient, "a deadline before FirstWait ends the wait")
	assert.ErrorIs(t, err, ErrNotChecked)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = s.Denied(ctx, team)
	assert.ErrorIs(t, err, ErrNotChecked, "a review already over does not wait")
	close(z.release)
}

func TestAccessCheckAsksOnceForManyRequests(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = patient
	s.MaxWaiting = 200 // every review waits: TestAccessCheckBoundsTheReviewsThatWait bounds them
	var started, done sync.WaitGroup
	for range 200 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			denied, err := s.Denied(context.Background(), team)
			assert.NoError(t, err, "every waiting review gets the one answer")
			assert.Equal(t, []validate.Access{}, denied)
		}()
	}
	started.Wait()
	close(z.release)
	done.Wait()
	assert.Equal(t, int64(len(team.Needs())), z.calls.Load(), "one question per need, however many requests")
}

func TestAccessCheckRemembersFailuresBriefly(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly}
	z.fail.Store(true)
	s := z.checker(t)
	s.FailureTTL = 200 * time.Millisecond
	s.FirstWait = patient
	denied, err := s.Denied(context.Background(), team)
	assert.Nil(t, denied)
	require.Error(t, err)
	assert.Equal(t, "the API server's authorizer could not be asked (connection refused); the webhook asks again within 200ms and admits meanwhile", err.Error())
	calls := z.calls.Load()
	for range 50 {
		_, err := s.Denied(context.Background(), team)
		assert.Error(t, err)
	}
	assert.Equal(t, calls, z.calls.Load(), "a remembered failure is not asked again at once")

	z.fail.Store(false)
	time.Sleep(250 * time.Millisecond)
	denied, err = s.Denied(context.Background(), team)
	require.NoError(t, err, "a forgotten failure is asked again")
	assert.Empty(t, denied)
}

func TestAccessCheckRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	var allowAll atomic.Bool
	z := &authorizer{allow: func(a authorizationv1.ResourceAttributes) bool { return allowAll.Load() || a.Verb != "patch" }}
	s := z.checker(t)
	s.Refresh = 0
	_, _ = s.Denied(context.Background(), team)
	denied, err := answered(t, s, team)
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{{Resource: "configmaps", Verb: "patch"}}, denied)

	allowAll.Store(true) // someone granted patch
	require.Eventually(t, func() bool {
		denied, err := s.Denied(context.Background(), team)
		return err == nil && len(denied) == 0
	}, 5*time.Second, time.Millisecond, "a known answer is given and refreshed behind it")
}

func TestAccessCheckWorkIsBounded(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = patient
	over, cancel := context.WithCancel(context.Background())
	cancel() // fill the queue without waiting
	for i := range 10 * maxQueued {
		_, err := s.Denied(over, validate.Account{Namespace: "team", Name: fmt.Sprint("a", i)})
		assert.ErrorIs(t, err, ErrNotChecked)
	}
	start := time.Now()
	_, err := s.Denied(context.Background(), team)
	assert.Less(t, time.Since(start), patient, "a full queue never holds up admission")
	assert.ErrorIs(t, err, ErrNotChecked)
	s.mu.Lock()
	assert.LessOrEqual(t, len(s.pending), maxQueued+s.Workers)
	s.mu.Unlock()
	close(z.release)
}

// BenchmarkAccessCheck measures what admission pays for the check besides
// a first review's wait (FirstWait 0), with an authorizer that answers at
// once and one that takes 100 ms, side by side: the two must cost the same,
// for accounts already known and for accounts asked about for the first
// time.
func BenchmarkAccessCheck(b *testing.B) {
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		for _, known := range []bool{true, false} {
			b.Run(fmt.Sprintf("authorizer=%s/known=%v", delay, known), func(b *testing.B) {
				c := fake.NewClientset()
				c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
					time.Sleep(delay)
					sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
					sar.Status.Allowed = true
					return true, sar, nil
				})
				s := NewSubjectAccessReviews(c.AuthorizationV1().SubjectAccessReviews())
				s.FirstWait = 0
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = s.Start(ctx) }()
				if known {
					_, _ = s.Denied(ctx, team)
					for {
						if _, err := s.Denied(ctx, team); !errors.Is(err, ErrNotChecked) {
							break
						}
						time.Sleep(time.Millisecond)
					}
				}
				b.ResetTimer()
				i := 0
				for b.Loop() {
					a := team
					if !known {
						a.Name = fmt.Sprint("new-", i)
						i++
					}
					_, _ = s.Denied(ctx, a)
				}
			})
		}
	}
}

// TestEnforceNeverDeniesBeforeTheAnswer: under checkAccounts: enforce, a
// review whose wait ends before the authorizer's answer is admitted with a
// warning that says what will happen; once the answer is known, an account
// without Flink's rights is denied.
func TestEnforceNeverDeniesBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: func(authorizationv1.ResourceAttributes) bool { return false }, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = 10 * time.Millisecond // the authorizer answers only when released
	enforce, err := policy.Parse([]byte("checkAccounts: enforce\n"))
	require.NoError(t, err)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Operation: admissionv1.Create, Namespace: "team",
		Object: runtime.RawExtension{Raw: []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"jm"},"spec":{"selector":{},"template":{
			"metadata":{"labels":{"component":"jobmanager"}},
			"spec":{"serviceAccountName":"mine","containers":[{"name":"jobmanager","image":"flink:1.17","args":["jobmanager"]}]}}}}`)},
	}}
	v := Validating(enforce, s)
	resp := v.Handle(context.Background(), req)
	assert.True(t, resp.Allowed, "an answer not known yet never denies")
	assert.Equal(t, []string{"spec.template.spec.serviceAccountName: could not check the rights of account mine: " + ErrNotChecked.Error()}, resp.Warnings)

	close(z.release)
	require.Eventually(t, func() bool { return !v.Handle(context.Background(), req).Allowed }, 5*time.Second, time.Millisecond)
	resp = v.Handle(context.Background(), req)
	require.Len(t, resp.Result.Details.Causes, 1)
	assert.Equal(t, `Invalid value: "mine": may not get configmaps, list configmaps, watch configmaps, create configmaps, update configmaps, `+
		`delete configmaps in team, which the JobManager needs with Flink's HA: bind it to a Role that allows it, `+
		`or leave the account to the webhook (flink-ha)`, resp.Result.Details.Causes[0].Message, "1.17 needs no patch")
}

// TestAccessCheckBoundsTheReviewsThatWait: with the authorizer holding
// every answer, MaxWaiting first reviews of new accounts wait and the next
// one is told at once that its account is not checked yet; each waiting
// review gets its answer once the authorizer gives it.
func TestAccessCheckBoundsTheReviewsThatWait(t *testing.T) {
	t.Parallel()
	z := &authorizer{allow: configMapsOnly, release: make(chan struct{})}
	s := z.checker(t)
	s.FirstWait = patient
	s.MaxWaiting = 2
	type result struct {
		denied []validate.Access
		err    error
	}
	results := make(chan result, s.MaxWaiting)
	for i := range s.MaxWaiting {
		go func() {
			denied, err := s.Denied(context.Background(), validate.Account{Namespace: "team", Name: fmt.Sprint("waiting-", i), Flink: team.Flink})
			results <- result{denied, err}
		}()
	}
	require.Eventually(t, func() bool { return s.waiting.Load() == int64(s.MaxWaiting) }, patient, time.Millisecond, "the first reviews wait")

	start := time.Now()
	denied, err := s.Denied(context.Background(), validate.Account{Namespace: "team", Name: "one-more", Flink: team.Flink})
	assert.Less(t, time.Since(start), patient, "no wait beyond MaxWaiting")
	assert.Nil(t, denied)
	assert.ErrorIs(t, err, ErrNotChecked)

	close(z.release)
	for range s.MaxWaiting {
		r := <-results
		require.NoError(t, r.err)
		assert.Equal(t, []validate.Access{}, r.denied, "a waiting review gets its answer")
	}
	assert.Zero(t, s.waiting.Load(), "nothing waits once they are answered")
	denied, err = answered(t, s, validate.Account{Namespace: "team", Name: "one-more", Flink: team.Flink})
	require.NoError(t, err)
	assert.Equal(t, []validate.Access{}, denied, "the review told to go on asked the question for a later one")
}
