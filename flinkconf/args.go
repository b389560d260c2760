package flinkconf

import (
	"slices"
	"strings"
	"unicode"
)

// Args is the dynamic properties in a container's arguments: "-D", "key=value"
// as two arguments or "-Dkey=value" as one. Later definitions win, as on
// Flink's command line.
type Args struct {
	index
	args     []string
	insertAt int
	joined   []bool // parallel to entries: written as one "-Dkey=value" argument
	consumed []bool // consumed[i]: argument i, if any, is the value of a "-D" before it
}

// ParseArgs reads the dynamic properties of args. New properties are added
// after the last existing one or, when there is none, at index insertAt (a
// negative insertAt or one past the end means at the end). args is copied.
func ParseArgs(args []string, insertAt int) *Args {
	a := &Args{args: slices.Clone(args), insertAt: insertAt}
	a.parse()
	return a
}

func (a *Args) parse() {
	a.reset(0)
	a.joined = a.joined[:0]
	a.consumed = make([]bool, len(a.args)+1)
	for i := 0; i < len(a.args); i++ {
		arg := a.args[i]
		var kv string
		at := i
		switch {
		case arg == "-D":
			a.consumed[i+1] = true
			if i+1 >= len(a.args) {
				a.warn(0, "argument %d is a \"-D\" with nothing after it", i)
				continue
			}
			i++
			kv, at = a.args[i], i
		case strings.HasPrefix(arg, "-D"):
			kv = arg[2:]
		default:
			continue
		}
		k, v, ok := strings.Cut(kv, "=") // Flink does not trim dynamic properties
		if !ok || k == "" {
			a.warn(0, "argument %d (%s) is not key=value; Flink ignores it", at, excerpt(kv))
			continue
		}
		a.add(Entry{Key: k, Value: v, Arg: at})
		a.joined = append(a.joined, arg != "-D")
	}
}

// Format implements Source.
func (a *Args) Format() Format { return FormatArgs }

// Args returns the current arguments.
func (a *Args) Args() []string { return a.args }

// Set implements Source. A present property is rewritten in place in the
// form it was written; a new one is added as the two arguments "-D",
// "key=value", which every Flink entrypoint script reads (jobmanager.sh
// takes a lone "-Dkey=value" right after "jobmanager" for a host name).
func (a *Args) Set(key, value string) (bool, error) {
	if key == "" || strings.ContainsRune(key, '=') || strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false, &EditError{Key: key, Msg: "a dynamic property key must be non-empty without '=' or white space"}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return false, &EditError{Key: key, Msg: "a dynamic property value cannot hold line breaks or NUL bytes"}
	}
	if i, ok := a.find(key); ok {
		e := a.entries[i]
		if e.Value == value {
			return false, nil
		}
		if a.joined[i] {
			a.args[e.Arg] = "-D" + key + "=" + value
		} else {
			a.args[e.Arg] = key + "=" + value
		}
		a.parse()
		return true, nil
	}
	at := a.insertAt
	if len(a.entries) > 0 {
		at = a.entries[len(a.entries)-1].Arg + 1
	}
	if at < 0 || at > len(a.args) {
		at = len(a.args)
	}
	for at > 0 && a.consumed[at] {
		at-- // never between a "-D" and its value: it would swallow ours
	}
	a.args = slices.Insert(a.args, at, "-D", key+"="+value)
	a.parse()
	return true, nil
}

// Delete implements Source.
func (a *Args) Delete(key string) (bool, error) {
	if _, ok := a.find(key); !ok {
		return false, nil
	}
	for j := len(a.entries) - 1; j >= 0; j-- {
		e := a.entries[j]
		if e.Key != key {
			continue
		}
		from := e.Arg
		if !a.joined[j] {
			from-- // the "-D" before it
		}
		a.args = slices.Delete(a.args, from, e.Arg+1)
	}
	a.parse()
	return true, nil
}
