package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
)

// handlerFunc is an admission.Handler from a function.
type handlerFunc func(context.Context, admission.Request) admission.Response

func (f handlerFunc) Handle(ctx context.Context, req admission.Request) admission.Response {
	return f(ctx, req)
}

// counting answers allowed and counts its calls.
func counting(calls *atomic.Int32) admission.Handler {
	return handlerFunc(func(context.Context, admission.Request) admission.Response {
		calls.Add(1)
		return admission.Allowed("")
	})
}

func review(t testing.TB, kind string, op admissionv1.Operation) []byte {
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "7f0d", Kind: metav1.GroupVersionKind{Version: "v1", Kind: kind},
			Namespace: "team", Operation: op, Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"x"}}`)}},
	})
	require.NoError(t, err)
	return body
}

func post(h http.Handler, target, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServeRefusesWhatIsNotAnAdmissionReview(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := handler.Serve("validate", counting(&calls), handler.NewLimiter(2, time.Second))
	cases := map[string]struct {
		method, contentType, body string
		code                      int
		message                   string
	}{
		"an empty object": {body: `{}`, code: 400,
			message: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "" and ""; set admissionReviewVersions: [v1] in the webhook configuration`},
		"null":          {body: `null`, code: 400, message: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "" and ""; set admissionReviewVersions: [v1] in the webhook configuration`},
		"an empty body": {body: ``, code: 400, message: `expected an AdmissionReview as JSON: unexpected end of JSON input`},
		"a GET":         {method: http.MethodGet, code: 400, message: `expected an AdmissionReview sent with POST, got GET`},
		"text":          {contentType: "text/plain", body: `{}`, code: 400, message: `expected an AdmissionReview of Content-Type application/json, got "text/plain"`},
		"a v1beta1 review": {body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}`, code: 400,
			message: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "admission.k8s.io/v1beta1" and "AdmissionReview"; set admissionReviewVersions: [v1] in the webhook configuration`},
		"a review without a request": {body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, code: 400, message: "the AdmissionReview has no request"},
		"a request without a uid": {body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"version":"v1","kind":"ConfigMap"}}}`,
			code: 400, message: "the AdmissionReview's request has no uid"},
		"a request without a kind": {body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}`,
			code: 400, message: "the AdmissionReview's request has no kind"},
		"a body over 3 MiB": {body: `{"x":"` + strings.Repeat("x", handler.MaxRequestBytes) + `"}`, code: 413,
			message: fmt.Sprintf("admission request of %d bytes is over the %d-byte limit", handler.MaxRequestBytes+8, handler.MaxRequestBytes)},
	}
	for name, c := range cases {
		method, ct := c.method, c.contentType
		if method == "" {
			method = http.MethodPost
		}
		if ct == "" {
			ct = "application/json"
		}
		req := httptest.NewRequest(method, "/validate", strings.NewReader(c.body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, c.code, rec.Code, name)
		assert.Equal(t, c.message+"\n", rec.Body.String(), name)
	}
	assert.Zero(t, calls.Load(), "no rule ran for any of them")

	rec := post(h, "/validate", "application/json; charset=utf-8", review(t, "ConfigMap", admissionv1.Create))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: "7f0d", Allowed: true, Result: &metav1.Status{Code: 200}},
	}, got, "a review is answered with its uid")
	assert.Equal(t, int32(1), calls.Load())
}

func TestServeQueuesBrieflyThenRefusesWith429(t *testing.T) {
	t.Parallel()
	// slow is a handler whose reviews each say when they start and end
	// when unblock is closed.
	slow := func() (h admission.Handler, started, unblock chan struct{}) {
		started, unblock = make(chan struct{}, 2), make(chan struct{})
		return handlerFunc(func(context.Context, admission.Request) admission.Response {
			started <- struct{}{}
			<-unblock
			return admission.Allowed("")
		}), started, unblock
	}
	body := review(t, "ConfigMap", admissionv1.Create)

	// One slot, a queue time of 200ms: a review that finds the slot taken
	// for longer is refused with 429.
	rules, started, unblock := slow()
	h := handler.Serve("validate", rules, handler.NewLimiter(1, 200*time.Millisecond))
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	wg.Go(func() { codes <- post(h, "/validate", "application/json", body).Code })
	<-started
	rec := post(h, "/validate", "application/json", body)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "flink-ha-webhook is busy: 1 reviews are being worked on and none finished within 200ms; the API server applies the webhook's failurePolicy, retry later or add replicas\n", rec.Body.String())
	close(unblock)
	wg.Wait()
	assert.Equal(t, http.StatusOK, <-codes, "the review that held the slot")

	// One that waits less than the queue time gets its turn. The queue time
	// is far above any scheduling delay of a loaded machine, so the test
	// does not depend on how quickly the second review is scheduled.
	rules, started, unblock = slow()
	h = handler.Serve("validate", rules, handler.NewLimiter(1, time.Minute))
	wg.Go(func() { codes <- post(h, "/validate", "application/json", body).Code })
	<-started
	wg.Go(func() { codes <- post(h, "/validate", "application/json", body).Code })
	time.Sleep(50 * time.Millisecond) // most likely queued by now; if not, it finds the slot free
	close(unblock)
	wg.Wait()
	assert.Equal(t, []int{200, 200}, []int{<-codes, <-codes})
}

func TestServeStartsNoWorkForAnAPIServerThatGaveUp(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	block, holding := make(chan struct{}), make(chan struct{}, 1)
	blocker := handlerFunc(func(context.Context, admission.Request) admission.Response {
		holding <- struct{}{}
		<-block
		return admission.Allowed("")
	})
	limit := handler.NewLimiter(1, 10*time.Second)
	busy := handler.Serve("mutate", blocker, limit)
	h := handler.Serve("validate", counting(&calls), limit)
	body := review(t, "ConfigMap", admissionv1.Create)
	go post(busy, "/mutate", "application/json", body)
	<-holding // the only slot is taken

	// The API server waits 100ms; the queue would wait 10s: a 503, not
	// a 429, shows the queue waited with the request's context.
	rec := post(h, "/validate?timeout=100ms", "application/json", body)
	close(block)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "the API server stopped waiting for this review: context deadline exceeded\n", rec.Body.String())
	assert.Zero(t, calls.Load(), "the review never reached the rules")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a client already gone")
	assert.Zero(t, calls.Load())
}

func TestServeBoundsTheResponse(t *testing.T) {
	t.Parallel()
	noisy := handlerFunc(func(context.Context, admission.Request) admission.Response {
		resp := admission.Allowed("")
		for i := range 100 {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("%d: %s", i, strings.Repeat("é", 1000)))
		}
		return resp
	})
	rec := post(handler.Serve("mutate", noisy, handler.NewLimiter(1, time.Second)), "/mutate", "application/json", review(t, "ConfigMap", admissionv1.Create))
	require.Equal(t, http.StatusOK, rec.Code)
	var got admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	w := got.Response.Warnings
	require.Len(t, w, 32)
	assert.Equal(t, "0: "+strings.Repeat("é", 125)+"…", w[0], "over 4 KiB in all, each is cut at 256 bytes on a character boundary")
	assert.Equal(t, "69 more warnings not shown", w[31])
	assert.Less(t, rec.Body.Len(), 10<<10)

	few := handlerFunc(func(context.Context, admission.Request) admission.Response {
		resp := admission.Allowed("")
		resp.Warnings = []string{strings.Repeat("a", 600), strings.Repeat("b", 5000)}
		return resp
	})
	rec = post(handler.Serve("mutate", few, handler.NewLimiter(1, time.Second)), "/mutate", "application/json", review(t, "ConfigMap", admissionv1.Create))
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, []string{strings.Repeat("a", 600), strings.Repeat("b", 1021) + "…"}, got.Response.Warnings,
		"under 4 KiB in all, warnings stay whole up to 1 KiB each")
}

func TestServeTurnsAPanicIntoA500(t *testing.T) {
	t.Parallel()
	panics := handlerFunc(func(context.Context, admission.Request) admission.Response { panic("boom") })
	rec := post(handler.Serve("mutate", panics, handler.NewLimiter(1, time.Second)), "/mutate", "application/json", review(t, "ConfigMap", admissionv1.Create))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "the rules panicked on ConfigMap team/: boom\n", rec.Body.String())
}

func TestMetricLabelsComeFromAClosedSet(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := handler.Serve("validate", counting(&calls), handler.NewLimiter(1, time.Second))
	for i := range 50 {
		require.Equal(t, http.StatusOK, post(h, "/validate", "application/json", review(t, fmt.Sprintf("Made%dUp", i), admissionv1.Operation(fmt.Sprintf("OP%d", i)))).Code)
	}
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "flink_ha_webhook_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				assert.NotContains(t, l.GetValue(), "Made", "%s{%s}", f.GetName(), l.GetName())
				assert.NotContains(t, l.GetValue(), "OP", "%s{%s}", f.GetName(), l.GetName())
			}
		}
	}
	var other float64
	for _, f := range families {
		if f.GetName() == "flink_ha_webhook_admission_requests_total" {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["webhook"] == "validate" && labels["kind"] == "other" && labels["operation"] == "other" {
					other = m.GetCounter().GetValue()
				}
			}
		}
	}
	assert.GreaterOrEqual(t, other, 50.0, "unknown kinds and operations count as other")
}
