package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Limiter bounds how many reviews are worked on at once, over every webhook
// that shares it, so that memory and CPU stay bounded whatever arrives. A
// review waits for a slot at most its queue time, and never past the
// moment the API server stops waiting for the answer.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
}

// NewLimiter lets n reviews run at once and others wait up to wait.
func NewLimiter(n int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// errBusy is what a review that found no slot in time gets.
var errBusy = errors.New("busy")

// acquire waits for a slot; blocked senders on a channel are served in
// arrival order, so the queue is fair.
func (l *Limiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Limiter) release() { <-l.slots }

// Bounds on what a response carries, whatever the rules produce. The API
// server keeps warnings whole up to 4 KiB in all, and past that cuts each
// to 256 characters: so do these, before the bytes are sent.
const (
	maxWarnings      = 32
	maxWarningBytes  = 1 << 10
	maxWarningsBytes = 4 << 10
	cutWarningBytes  = 256
	maxMessageBytes  = 8 << 10
	maxCauses        = 32
)

// Serve returns the HTTP handler of the webhook name (mutate, validate):
// it refuses what is not an AdmissionReview with a 400, larger bodies than
// MaxRequestBytes with a 413, waits for a slot of limit (429 when none
// frees in time), honours the API server's timeout (no work starts once it
// gave up), runs h with request metrics and logging (Observed), and bounds
// the response. h gets the request's object as bytes of the body
// (Object.Raw) and, when the rules handle its kind, decoded into the
// kind's type (Object.Object, h's to change); it does not get oldObject.
func Serve(name string, h admission.Handler, limit *Limiter) http.Handler {
	return Capped(&reviews{name: name, h: Observed(name, h), limit: limit,
		log: logf.Log.WithName("admission").WithValues("webhook", name)})
}

type reviews struct {
	name  string
	h     admission.Handler
	limit *Limiter
	log   logr.Logger
}

// httpError is an answer other than a review's.
type httpError struct {
	code int
	msg  string
}

func (s *reviews) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := http.StatusOK
	if e := s.serve(w, r); e != nil {
		code = e.code
		s.log.V(1).Info("refused", "code", e.code, "reason", e.msg, "remote", r.RemoteAddr)
		http.Error(w, e.msg, e.code)
	}
	durationSeconds.WithLabelValues(s.name, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
}

func (s *reviews) serve(w http.ResponseWriter, r *http.Request) *httpError {
	if r.Method != http.MethodPost {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("expected an AdmissionReview sent with POST, got %s", r.Method)}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("expected an AdmissionReview of Content-Type application/json, got %q", r.Header.Get("Content-Type"))}
	}
	ctx := r.Context()
	// The API server says how long it waits (?timeout=5s); past that the
	// answer is thrown away, so the work is too.
	if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	// The slot is taken before the body is read: waiting reviews hold a
	// connection, not their bytes.
	release, err := s.limit.acquire(ctx)
	if errors.Is(err, errBusy) {
		// The API server's client retries after Retry-After while its
		// timeout allows.
		w.Header().Set("Retry-After", "1")
		return &httpError{http.StatusTooManyRequests, fmt.Sprintf("flink-ha-webhook is busy: %d reviews are being worked on and none finished within %s; the API server applies the webhook's failurePolicy, retry later or add replicas",
			cap(s.limit.slots), s.limit.wait)}
	}
	if err != nil {
		return gaveUp(err)
	}
	defer release()
	inFlight.Inc()
	defer inFlight.Dec()

	body, err := readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("admission request over the %d-byte limit", MaxRequestBytes)}
		}
		return &httpError{http.StatusBadRequest, fmt.Sprintf("reading the AdmissionReview: %v", err)}
	}
	review, err := decodeReview(body)
	if err != nil {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("expected an AdmissionReview as JSON: %v", err)}
	}
	if msg := checkReview(review); msg != "" {
		return &httpError{http.StatusBadRequest, msg}
	}
	if err := ctx.Err(); err != nil {
		return gaveUp(err)
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	resp, err := s.handle(ctx, req)
	if err != nil {
		s.log.Error(err, "review failed", "uid", req.UID)
		return &httpError{http.StatusInternalServerError, err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return gaveUp(err)
	}
	bound(&resp)
	if err := resp.Complete(req); err != nil {
		return &httpError{http.StatusInternalServerError, fmt.Sprintf("encoding the patch: %v", err)}
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: &resp.AdmissionResponse})
	if err != nil {
		return &httpError{http.StatusInternalServerError, fmt.Sprintf("encoding the AdmissionReview: %v", err)}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	return nil
}

// gaveUp answers a review the API server no longer waits for; nobody reads
// the answer, but the metrics do.
func gaveUp(err error) *httpError {
	return &httpError{http.StatusServiceUnavailable, fmt.Sprintf("the API server stopped waiting for this review: %v", err)}
}

// handle runs the rules, turning a panic into an error: one bad object
// must not take down the server every other review goes through.
func (s *reviews) handle(ctx context.Context, req admission.Request) (resp admission.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the rules panicked on %s %s/%s: %v", req.Kind.Kind, req.Namespace, req.Name, p)
		}
	}()
	return s.h.Handle(ctx, req), nil
}

// readBody reads the request into one buffer of the announced size when
// there is one, instead of growing a buffer to twice that.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// checkReview says what makes review not an admission.k8s.io/v1
// AdmissionReview request, or "".
func checkReview(review *admissionv1.AdmissionReview) string {
	switch {
	case review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview":
		return fmt.Sprintf("expected apiVersion %s and kind AdmissionReview, got %q and %q; set admissionReviewVersions: [v1] in the webhook configuration",
			admissionv1.SchemeGroupVersion, review.APIVersion, review.Kind)
	case review.Request == nil:
		return "the AdmissionReview has no request"
	case review.Request.UID == "":
		return "the AdmissionReview's request has no uid"
	case review.Request.Kind.Kind == "":
		return "the AdmissionReview's request has no kind"
	}
	return ""
}

// bound caps the warnings and the denial a response carries.
func bound(resp *admission.Response) {
	if n := len(resp.Warnings); n > maxWarnings {
		resp.Warnings = append(resp.Warnings[:maxWarnings-1:maxWarnings-1], fmt.Sprintf("%d more warnings not shown", n-maxWarnings+1))
	}
	total := 0
	for i, w := range resp.Warnings {
		resp.Warnings[i] = truncate(w, maxWarningBytes)
		total += len(resp.Warnings[i])
	}
	if total > maxWarningsBytes {
		for i, w := range resp.Warnings {
			resp.Warnings[i] = truncate(w, cutWarningBytes)
		}
	}
	if st := resp.Result; st != nil {
		st.Message = truncate(st.Message, maxMessageBytes)
		if d := st.Details; d != nil && len(d.Causes) > maxCauses {
			d.Causes = append(d.Causes[:maxCauses:maxCauses], metav1.StatusCause{
				Message: fmt.Sprintf("%d more causes not shown", len(d.Causes)-maxCauses)})
		}
		if d := st.Details; d != nil {
			for i := range d.Causes {
				d.Causes[i].Message = truncate(d.Causes[i].Message, maxWarningBytes)
				d.Causes[i].Field = truncate(d.Causes[i].Field, cutWarningBytes)
			}
		}
	}
}

// truncate cuts s to at most n bytes on a character boundary, marking the
// cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
