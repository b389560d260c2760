package handler

import (
	"bytes"
	"encoding/json"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// decodeReview reads an AdmissionReview from body. The request's object is
// kept as its bytes, and its oldObject is skipped: no rule reads it. When the object is of a kind the rules handle with a typed
// object (not a FlinkDeployment), it is also decoded into that kind's type (RawExtension.Object) in the same pass over
// the bytes as the review, instead of a second validation and decoding of
// its bytes by the rules. A body that is not an AdmissionReview fails with
// the error decoding it into admissionv1.AdmissionReview gives.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	if review, ok := decodeTyped(body); ok {
		return review, nil
	}
	return decodePlain(body)
}

// decodePlain is decodeReview without decoding the object.
func decodePlain(body []byte) (*admissionv1.AdmissionReview, error) {
	var in plainReview
	if err := json.Unmarshal(body, &in); err != nil {
		// The same refusal, in the same words, as a review decoded into
		// admissionv1's own types: the fields here take what theirs take,
		// only the messages name other types.
		var std admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &std); err != nil {
			return nil, err
		}
		return &std, nil
	}
	review := &admissionv1.AdmissionReview{TypeMeta: in.TypeMeta}
	if in.Request != nil {
		review.Request = &in.Request.AdmissionRequest
		review.Request.Object = runtime.RawExtension{Raw: in.Request.Object}
	}
	return review, nil
}

// plainReview is an AdmissionReview whose request keeps its object's bytes
// and skips its oldObject.
type plainReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *plainRequest `json:"request,omitempty"`
}

type plainRequest struct {
	admissionv1.AdmissionRequest
	Object    rawBytes `json:"object,omitempty"`
	OldObject skipped  `json:"oldObject,omitempty"`
}

// typedReview is an AdmissionReview whose request's object decodes into
// the value Object holds before decoding.
type typedReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *typedRequest `json:"request,omitempty"`
}

type typedRequest struct {
	admissionv1.AdmissionRequest
	Object    any     `json:"object,omitempty"`
	OldObject skipped `json:"oldObject,omitempty"`
}

// rawBytes takes any JSON value as its bytes, as runtime.RawExtension
// does.
type rawBytes []byte

// UnmarshalJSON implements json.Unmarshaler.
func (r *rawBytes) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		// encoding/json lends b only for the call: keep a copy.
		*r = append((*r)[:0], b...)
	}
	return nil
}

// skipped takes any JSON value and keeps nothing of it.
type skipped struct{}

// UnmarshalJSON implements json.Unmarshaler.
func (*skipped) UnmarshalJSON([]byte) error { return nil }

// decodeTyped decodes a review whose request names a kind the rules handle
// and holds an object, with the object decoded into the kind's type. It
// looks for the request's kind and object in the bytes first; ok is false
// when it cannot tell them for certain (the bytes are not JSON, a key is
// written with escapes or twice, the object is null) or the review does
// not decode: decodeReview then takes the plain way (decodePlain).
func decodeTyped(body []byte) (*admissionv1.AdmissionReview, bool) {
	request, _, ok := lookup(body, "request", "")
	if !ok || !isObject(request) {
		return nil, false
	}
	kindJSON, object, ok := lookup(request, "kind", "object")
	if !ok || !isObject(object) || kindJSON == nil {
		return nil, false
	}
	group, kind, ok := lookup(kindJSON, "group", "kind")
	if !ok {
		return nil, false
	}
	var gk schema.GroupKind
	if gk.Group, ok = plainString(group); !ok {
		return nil, false
	}
	if gk.Kind, ok = plainString(kind); !ok {
		return nil, false
	}
	k, ok := kinds[gk]
	if !ok || k.decodesItself() {
		// A FlinkDeployment (unstructured) decodes its own bytes: decoding
		// it with the review would save nothing.
		return nil, false
	}
	obj := k.newObject()
	target := k.decodeTarget(obj)
	in := typedReview{Request: &typedRequest{Object: target}}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, false
	}
	if in.Request == nil || in.Request.Object != target || (schema.GroupKind{Group: in.Request.Kind.Group, Kind: in.Request.Kind.Kind}) != gk {
		return nil, false
	}
	req := &in.Request.AdmissionRequest
	req.Object = runtime.RawExtension{Raw: object, Object: obj}
	return &admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Request: req}, true
}

func isObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// Managed fields. The API server sends every object with its managed
// fields, a third of a workload's bytes as kubectl apply leaves them, and
// no rule reads them: the webhooks answer with a patch between the object
// as decoded before and after the rules, which both lack them, so the
// stored object keeps its own. The webhooks decode objects without them
// (decodeTarget, withoutManagedFields), which saves their decoding, their
// copy and writing them twice for the patch (go test -bench Stored
// ./handler); whatever they hold, as long as the review is JSON.

// metaSkippingManagedFields decodes into ObjectMeta what ObjectMeta
// decodes, but for the managed fields, which its own field of the same
// name, shallower, takes and drops (encoding/json gives a name to the
// shallowest field). Kinds decoded with a type of their own put it in
// place of their metadata the same way (rules.skipping).
type metaSkippingManagedFields struct {
	*metav1.ObjectMeta
	ManagedFields skipped `json:"managedFields,omitempty"`
}

// withoutManagedFields is doc, a JSON object, with the value of
// metadata.managedFields read as null: for an object decoded as a map
// (a FlinkDeployment), where no field can take them instead. It is doc
// itself when the walk over the bytes cannot tell that value for certain
// (see lookup) or the value is not JSON of its own; where the rest of doc
// decodes, so does doc, to the same object but for the managed fields: up
// to the value, the walk and a decoder read the same bytes, and a JSON
// value stands where null stood.
func withoutManagedFields(doc []byte) []byte {
	meta, _, ok := lookup(doc, "metadata", "")
	if !ok || !isObject(meta) {
		return doc
	}
	fields, _, ok := lookup(meta, "managedFields", "")
	if !ok || fields == nil || string(fields) == "null" || !json.Valid(fields) {
		return doc
	}
	// fields is a part of doc: its offset is how much more capacity doc
	// has than it.
	at := cap(doc) - cap(fields)
	out := make([]byte, 0, len(doc)-len(fields)+len("null"))
	out = append(out, doc[:at]...)
	out = append(out, "null"...)
	return append(out, doc[at+len(fields):]...)
}

// plainString is the JSON string v ("" when v is missing) when it holds
// printable ASCII without escapes, as group and kind names do.
func plainString(v []byte) (string, bool) {
	if v == nil {
		return "", true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || !plainASCII(v[1:len(v)-1]) {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// lookup finds the values of the members a and b ("" for none) of the JSON
// object d. Keys match as encoding/json matches them to field names,
// without regard to case; ok is false when d is not an object as far as
// the walk can tell, a key is not plain ASCII (escapes would need
// decoding), or a name matches two keys. It never reads past d, whatever
// d holds; only for valid JSON are the values right, so a caller decodes d
// too.
func lookup(d []byte, a, b string) (va, vb []byte, ok bool) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return nil, nil, true
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return nil, nil, false
		}
		end := stringEnd(d, i)
		if end-i < 2 || d[end-1] != '"' {
			return nil, nil, false
		}
		key := d[i+1 : end-1]
		if !plainASCII(key) {
			return nil, nil, false
		}
		if i = skipSpace(d, end); i >= len(d) || d[i] != ':' {
			return nil, nil, false
		}
		if i = skipSpace(d, i+1); i >= len(d) {
			return nil, nil, false
		}
		end = valueEnd(d, i)
		switch {
		case a != "" && bytes.EqualFold(key, []byte(a)):
			if va != nil {
				return nil, nil, false
			}
			va = d[i:end]
		case b != "" && bytes.EqualFold(key, []byte(b)):
			if vb != nil {
				return nil, nil, false
			}
			vb = d[i:end]
		}
		if i = skipSpace(d, end); i >= len(d) {
			return nil, nil, false
		}
		switch d[i] {
		case '}':
			return va, vb, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return nil, nil, false
		}
	}
}
