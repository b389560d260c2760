package flinkconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxSeparators bounds the characters that can make a YAML node (':', ',',
// '[', '{', '*', and '-' or '?' before a blank) in one config.yaml. yaml.v3
// builds its whole tree before it returns, about three nodes for each such
// character at most, so the bound is checked on the text, before it builds
// anything. Flink's own configuration has a few hundred.
const maxSeparators = 8 << 10

// checkSeparators refuses text that could make more YAML nodes than a parse
// may build.
func checkSeparators(src []byte) error {
	n := 0
	for i, c := range src {
		switch c {
		case ':', ',', '[', '{', '*':
			n++
		case '-', '?':
			if i+1 == len(src) || src[i+1] == ' ' || src[i+1] == '\t' || src[i+1] == '\n' || src[i+1] == '\r' {
				n++
			}
		default:
			continue
		}
		if n > maxSeparators {
			line := bytes.Count(src[:i], []byte{'\n'}) + 1
			return &ParseError{Line: line, Msg: fmt.Sprintf("has more than %d YAML separators (':', ',', '- ', '[', '{', '*'), the most a config.yaml may have; Flink's own has a few hundred", maxSeparators)}
		}
	}
	return nil
}

// decodeYAML reads the one YAML document of src and returns its root
// mapping, or nil for an empty document.
func decodeYAML(src []byte) (*yaml.Node, error) {
	if err := checkSeparators(src); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty, or comments only
		}
		return nil, yamlError(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &ParseError{Line: more.Line, Msg: "holds a second YAML document; Flink reads exactly one: remove the \"---\" and what follows, or merge it into the first"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Line: root.Line, Msg: "must be a YAML mapping of keys to values"}
	}
	return root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &ParseError{Line: n, Msg: clip("invalid YAML: "+err.Error()[len(m[0]):], maxWarningLen)}
	}
	return &ParseError{Msg: clip("invalid YAML: "+msg, maxWarningLen)}
}

func (s *Standard) newMap(flow bool) int32 {
	s.maps = append(s.maps, stdMap{flow: flow, first: -1, last: -1})
	return int32(len(s.maps) - 1)
}

func (s *Standard) addPair(m int32, p stdPair) int32 {
	p.parent, p.next = m, -1
	s.pairs = append(s.pairs, p)
	i := int32(len(s.pairs) - 1)
	mm := &s.maps[m]
	if mm.last >= 0 {
		s.pairs[mm.last].next = i
	} else {
		mm.first = i
	}
	mm.last = i
	mm.count++
	return i
}

// convertMap turns a YAML mapping into the tree, with the byte offset of
// every key and value. A mapping reached again through an alias is
// converted once.
func (s *Standard) convertMap(n *yaml.Node, memo map[*yaml.Node]int32, depth int, b *budget) (int32, error) {
	if mi, ok := memo[n]; ok {
		return mi, nil
	}
	if depth > maxDepth {
		return 0, &ParseError{Line: n.Line, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	mi := s.newMap(n.Style&yaml.FlowStyle != 0)
	memo[n] = mi
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			return 0, &ParseError{Line: k.Line, Msg: "uses an alias as a key; write the key out"}
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return 0, &ParseError{Line: k.Line, Msg: "has a key that is not a plain value; Flink keys are strings"}
		}
		p := stdPair{key: k.Value, keyLine: k.Line, keyOff: s.offset(k.Line, k.Column), keyTagged: k.Style&yaml.TaggedStyle != 0}
		target := v
		if v.Kind == yaml.AliasNode {
			target = v.Alias
		}
		p.val = stdValue{alias: v.Kind == yaml.AliasNode, off: s.offset(v.Line, v.Column)}
		switch target.Tag {
		case "!!int":
			p.val.tag = tagInt
		case "!!bool":
			p.val.tag = tagBool
		}
		switch {
		case target.Kind == yaml.MappingNode:
			p.val.kind = valMap
			m, err := s.convertMap(target, memo, depth+1, b)
			if err != nil {
				return 0, err
			}
			p.val.m = m
		case target.Kind == yaml.ScalarNode && target.Tag == "!!null":
			p.val.kind = valNull
		default:
			text, err := scalarString(target, depth+1, b)
			if err != nil {
				if pe, ok := err.(*ParseError); ok {
					pe.Line = k.Line // the key whose value is too large, not a node deep inside it
				}
				return 0, err
			}
			p.val.text = text
			switch {
			case v.Kind != yaml.ScalarNode || v.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
				p.val.style = styleOther
			case v.Style&yaml.SingleQuotedStyle != 0:
				p.val.style = styleSingle
			case v.Style&yaml.DoubleQuotedStyle != 0:
				p.val.style = styleDouble
			default:
				if end := p.val.off + len(v.Value); end <= len(s.src) && string(s.src[p.val.off:end]) == v.Value {
					p.val.end = end // a one-line plain scalar
				}
			}
		}
		s.addPair(mi, p)
	}
	return mi, nil
}

// scalarString renders a value the way Flink turns it into a string: lists
// join with ';', maps inside lists as k:v pairs joined with ','. Every node
// visited, and every byte joined, is spent from b first.
func scalarString(v *yaml.Node, depth int, b *budget) (string, error) {
	if depth > maxDepth {
		return "", &ParseError{Line: v.Line, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	if err := b.spendNodes(len(v.Content)+1, v.Line); err != nil {
		return "", err
	}
	switch v.Kind {
	case yaml.AliasNode:
		return scalarString(v.Alias, depth+1, b)
	case yaml.SequenceNode, yaml.MappingNode:
		step, sep := 1, ";"
		if v.Kind == yaml.MappingNode {
			step, sep = 2, ","
		}
		parts := make([]string, 0, len(v.Content)/step)
		size := 0
		for i := 0; i+step-1 < len(v.Content); i += step {
			p, err := scalarString(v.Content[i], depth+1, b)
			if err != nil {
				return "", err
			}
			if step == 2 {
				val, err := scalarString(v.Content[i+1], depth+1, b)
				if err != nil {
					return "", err
				}
				p = p + ":" + val
			}
			parts = append(parts, p)
			size += len(p) + 1
		}
		if err := b.spendBytes(size, v.Line); err != nil {
			return "", err
		}
		return strings.Join(parts, sep), nil
	}
	if v.Tag == "!!bool" {
		return strings.ToLower(v.Value), nil
	}
	return v.Value, nil
}
