package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gomodules.xyz/jsonpatch/v2"
)

// Patch returns the JSON patch that turns the JSON document before into
// after, both as json.Marshal writes them (compact, keys in a fixed order).
// Lists are compared from both ends, so an element inserted into or
// removed from a list is one operation, whatever its length: an index-wise
// comparison would rewrite every later element (inserting one argument
// before 100,000 others made a 9 MB patch). Values are compared as bytes
// and only the parts that differ are split further, never decoded: time
// is linear in the documents, and the memory is a slice per element of
// the lists on the way to a change.
func Patch(before, after []byte) ([]jsonpatch.Operation, error) {
	if bytes.Equal(before, after) {
		return nil, nil
	}
	if !json.Valid(before) {
		return nil, fmt.Errorf("the object before the rules is not JSON")
	}
	if !json.Valid(after) {
		return nil, fmt.Errorf("the object after the rules is not JSON")
	}
	return patch(before, after)
}

// patch is Patch of documents json.Marshal just wrote, which need no second
// look at whether they are JSON.
func patch(before, after []byte) ([]jsonpatch.Operation, error) {
	if bytes.Equal(before, after) {
		return nil, nil
	}
	return diff(nil, "", trimSpace(before), trimSpace(after))
}

// pointerEscaper escapes a key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func diff(ops []jsonpatch.Operation, path string, a, b []byte) ([]jsonpatch.Operation, error) {
	if bytes.Equal(a, b) {
		return ops, nil
	}
	switch {
	case a[0] == '{' && b[0] == '{':
		return diffObjects(ops, path, a, b)
	case a[0] == '[' && b[0] == '[':
		return diffLists(ops, path, a, b, elements(a), elements(b))
	}
	return append(ops, jsonpatch.Operation{Operation: "replace", Path: path, Value: json.RawMessage(b)}), nil
}

func diffObjects(ops []jsonpatch.Operation, path string, a, b []byte) ([]jsonpatch.Operation, error) {
	am, err := members(a)
	if err != nil {
		return nil, err
	}
	bm, err := members(b)
	if err != nil {
		return nil, err
	}
	// Keys in sorted order make the patch the same for the same change
	// every time.
	for i, j := 0, 0; i < len(am) || j < len(bm); {
		var c int
		switch {
		case i == len(am):
			c = 1
		case j == len(bm):
			c = -1
		default:
			c = bytes.Compare(am[i].key, bm[j].key)
		}
		switch {
		case c < 0:
			ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: memberPath(path, am[i].key)})
			i++
		case c > 0:
			ops = append(ops, jsonpatch.Operation{Operation: "add", Path: memberPath(path, bm[j].key), Value: json.RawMessage(bm[j].value)})
			j++
		default:
			if !bytes.Equal(am[i].value, bm[j].value) {
				if ops, err = diff(ops, memberPath(path, am[i].key), am[i].value, bm[j].value); err != nil {
					return nil, err
				}
			}
			i, j = i+1, j+1
		}
	}
	return ops, nil
}

// memberPath is the JSON pointer to the member key of the object at path.
func memberPath(path string, key []byte) string {
	if bytes.ContainsAny(key, "~/") {
		return path + "/" + pointerEscaper.Replace(string(key))
	}
	return path + "/" + string(key)
}

// diffLists keeps the longest common head and tail of the two lists and
// compares what lies between element by element; what one side has more is
// added or removed there. Operations apply in order, so indices are those of
// the list as the earlier operations left it.
func diffLists(ops []jsonpatch.Operation, path string, ad, bd []byte, a, b []span) ([]jsonpatch.Operation, error) {
	eq := func(i, j int) bool { return bytes.Equal(a[i].of(ad), b[j].of(bd)) }
	head := 0
	for head < len(a) && head < len(b) && eq(head, head) {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && eq(len(a)-1-tail, len(b)-1-tail) {
		tail++
	}
	am, bm := a[head:len(a)-tail], b[head:len(b)-tail]
	common := min(len(am), len(bm))
	var err error
	for i := range common {
		if ops, err = diff(ops, path+"/"+strconv.Itoa(head+i), am[i].of(ad), bm[i].of(bd)); err != nil {
			return nil, err
		}
	}
	at := path + "/" + strconv.Itoa(head+common)
	for range len(am) - common {
		ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: at})
	}
	for i, v := range bm[common:] {
		ops = append(ops, jsonpatch.Operation{Operation: "add", Path: path + "/" + strconv.Itoa(head+common+i), Value: json.RawMessage(v.of(bd))})
	}
	return ops, nil
}

// The scanner below splits valid JSON (Patch checks it first) into the
// bytes of its parts without copying or decoding them.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimSpace(d []byte) []byte {
	return bytes.TrimFunc(d, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// stringEnd is the index after the string that starts at d[i]. It jumps
// from quote to quote (bytes.IndexByte is vectorised): a quote ends the
// string unless an odd run of backslashes, after the opening quote,
// precedes it.
func stringEnd(d []byte, i int) int {
	start := i
	for i++; i < len(d); i++ {
		q := bytes.IndexByte(d[i:], '"')
		if q < 0 {
			return len(d)
		}
		i += q
		escapes := 0
		for j := i - 1; j > start && d[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
			return i + 1
		}
	}
	return len(d)
}

// valueEnd is the index after the value that starts at d[i].
func valueEnd(d []byte, i int) int {
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = stringEnd(d, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(d)
	}
	for i < len(d) && d[i] != ',' && d[i] != '}' && d[i] != ']' && !isSpace(d[i]) {
		i++
	}
	return i
}

// span is where an element lies in its list's bytes: 8 bytes an element
// where a slice would take 24, for lists of hundreds of thousands.
type span struct{ start, end int32 }

func (s span) of(d []byte) []byte { return d[s.start:s.end] }

// elements splits a JSON array into its elements, counted first so that
// the spans are allocated once.
func elements(d []byte) []span {
	n := 0
	for i := skipSpace(d, 1); i < len(d) && d[i] != ']'; n++ {
		i = skipSpace(d, valueEnd(d, i))
		if i < len(d) && d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	out := make([]span, 0, n)
	for i := skipSpace(d, 1); i < len(d) && d[i] != ']'; {
		end := valueEnd(d, i)
		out = append(out, span{int32(i), int32(end)})
		i = skipSpace(d, end)
		if i < len(d) && d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	return out
}

// member is one key of a JSON object, decoded, and its value's bytes.
type member struct {
	key, value []byte
}

// members splits a JSON object into its members, keys decoded, sorted by
// key; of a key written twice, the last value counts, as when decoding.
func members(d []byte) ([]member, error) {
	out := make([]member, 0, 8)
	for i := skipSpace(d, 1); i < len(d) && d[i] != '}'; {
		end := stringEnd(d, i)
		key, err := decodeKey(d[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(d, end) + 1 // the colon
		i = skipSpace(d, i)
		end = valueEnd(d, i)
		out = append(out, member{key, d[i:end]})
		i = skipSpace(d, end)
		if i < len(d) && d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	if !strictlySorted(out) {
		slices.SortStableFunc(out, compareMembers)
		// Of equal keys, keep the last.
		w := 0
		for r := range out {
			if w > 0 && bytes.Equal(out[w-1].key, out[r].key) {
				out[w-1] = out[r]
				continue
			}
			out[w] = out[r]
			w++
		}
		out = out[:w]
	}
	return out, nil
}

func compareMembers(a, b member) int { return bytes.Compare(a.key, b.key) }

// strictlySorted reports whether the keys are in order and none is
// written twice, as json.Marshal writes objects.
func strictlySorted(ms []member) bool {
	for i := 1; i < len(ms); i++ {
		if bytes.Compare(ms[i-1].key, ms[i].key) >= 0 {
			return false
		}
	}
	return true
}

// decodeKey decodes a JSON string: one of plain ASCII without escapes, as
// almost every key is, is its bytes between the quotes, not copied.
func decodeKey(q []byte) ([]byte, error) {
	if len(q) >= 2 && q[0] == '"' && q[len(q)-1] == '"' && plainASCII(q[1:len(q)-1]) {
		return q[1 : len(q)-1], nil
	}
	var key string
	if err := json.Unmarshal(q, &key); err != nil {
		return nil, fmt.Errorf("decoding the key %.40s: %w", q, err)
	}
	return []byte(key), nil
}

// plainASCII reports whether b is printable ASCII without a backslash: a
// JSON string's content that decodes to itself.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf || c < ' ' {
			return false
		}
	}
	return true
}
