package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// position is a line and column in the config file (1-based).
type position struct{ line, col int }

// source remembers where each field of a parsed config came from, so that
// defaults can tell "absent" from "set to zero" and validation errors can
// name a line.
type source struct {
	// keys maps a field path to the position of its key (or list element).
	keys map[string]position
	// set holds the paths given a non-null value in the file.
	set map[string]bool
	// order maps a mapping's path to its keys in file order.
	order map[string][]string
	// bad holds the paths that failed to decode; validation stays quiet about them.
	bad map[string]bool
}

func newSource() *source {
	return &source{
		keys:  map[string]position{},
		set:   map[string]bool{},
		order: map[string][]string{},
		bad:   map[string]bool{},
	}
}

// lineOf returns the position of path, or of its nearest parent that has one.
func (s *source) lineOf(path string) position {
	if s == nil {
		return position{}
	}
	for path != "" {
		if p, ok := s.keys[path]; ok {
			return p
		}
		path = parentPath(path)
	}
	return position{}
}

// has reports whether path appears in the file.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.keys[path]
	return ok
}

// badNear reports whether path, one of its parents or one of its children failed to decode.
func (s *source) badNear(path string) bool {
	if s == nil || len(s.bad) == 0 {
		return false
	}
	for p := path; p != ""; p = parentPath(p) {
		if s.bad[p] {
			return true
		}
	}
	for p := range s.bad {
		if strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// joinPath appends key to path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decoder fills Go values from a yaml.Node tree, collecting every problem
// instead of stopping at the first.
type decoder struct {
	file string
	src  *source
	errs Errors
	// nodes and depth bound the work done, so that aliases that expand
	// exponentially or refer to themselves cannot exhaust memory or stack.
	nodes, depth int
	exhausted    bool
}

// Limits on a document's size after aliases are expanded.
const (
	maxNodes = 1 << 18
	maxDepth = 64
)

var durationType = reflect.TypeFor[Duration]()

// fail records a problem at node n for path.
func (d *decoder) fail(n *yaml.Node, path, fix, format string, args ...any) {
	d.src.bad[path] = true
	delete(d.src.set, path) // the default stands in for the bad value
	d.errs = append(d.errs, &Error{
		File: d.file, Line: n.Line, Column: n.Column, Path: path,
		Msg: fmt.Sprintf(format, args...), Fix: fix,
	})
}

// decode stores n into v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) || d.exhausted {
		return
	}
	d.nodes++
	d.depth++
	defer func() { d.depth-- }()
	if d.nodes > maxNodes || d.depth > maxDepth {
		d.exhausted = true
		d.fail(n, path, "simplify the file's anchors and aliases", "document too large or nested too deeply")
		return
	}
	d.src.set[path] = true
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what n holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// pair is one key and value of a mapping after merge keys ("<<") are expanded.
type pair struct{ key, value *yaml.Node }

// pairs returns n's entries with merged entries first and explicit keys
// overriding them. Duplicate explicit keys are reported.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "use a plain name as the key", "expected a key, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, joinPath(path, k.Value), "remove one of them",
				"key given twice (first on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, pair{k, val})
	}
	out := make([]pair, 0, len(merged)+len(explicit))
	for _, p := range merged {
		if _, over := seen[p.key.Value]; !over {
			seen[p.key.Value] = p.key
			out = append(out, p)
		}
	}
	return append(out, explicit...)
}

// mergePairs expands the value of a "<<" key: a mapping, an alias of one, or a list of them.
func (d *decoder) mergePairs(n *yaml.Node, path string) []pair {
	n = resolveAlias(n)
	if d.exhausted {
		return nil
	}
	if d.nodes++; d.nodes > maxNodes {
		d.exhausted = true
		d.fail(n, path, "simplify the file's anchors and aliases", "document too large or nested too deeply")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range n.Content {
			out = append(out, d.mergePairs(item, path)...)
		}
		return out
	}
	d.fail(n, path, "merge a mapping such as *defaults", "cannot merge %s", describe(n))
	return nil
}

// fieldInfo describes one YAML-visible struct field.
type fieldInfo struct {
	name  string
	index int
	// bytes marks an integer field that takes a size with a unit (tag unit:"bytes").
	bytes bool
}

// yamlFields lists t's fields by their yaml tag, in declaration order.
func yamlFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{name: name, index: i, bytes: f.Tag.Get("unit") == "bytes"})
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write it as indented key: value lines", "expected a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	byName := make(map[string]fieldInfo, len(fields))
	names := make([]string, len(fields))
	for i, f := range fields {
		byName[f.name] = f
		names[i] = f.name
	}
	for _, p := range d.pairs(n, path) {
		fp := joinPath(path, p.key.Value)
		f, ok := byName[p.key.Value]
		if !ok && path == "" && strings.HasPrefix(p.key.Value, "x-") {
			continue // extension key, a home for YAML anchors
		}
		if !ok {
			fix, meant := unknownFieldFix(p.key.Value, v.Type(), names)
			d.fail(p.key, fp, fix, "unknown field")
			if meant != "" {
				// The intended field is missing only because of the typo: stay quiet about it.
				d.src.bad[joinPath(path, meant)] = true
			}
			continue
		}
		d.src.keys[fp] = position{p.key.Line, p.key.Column}
		if f.bytes {
			d.byteSize(p.value, v.Field(f.index), fp)
			continue
		}
		d.decode(p.value, v.Field(f.index), fp)
	}
}

// byteSize stores a size such as 1048576, "10MB" or "512KiB" (see
// ParseByteSize) into the integer v.
func (d *decoder) byteSize(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) || d.exhausted {
		return
	}
	d.src.set[path] = true
	const fix = "write a number of bytes or a size with a unit, e.g. 10MB or 512KiB"
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, fix, "expected a size, got %s", describe(n))
		return
	}
	size, err := ParseByteSize(n.Value)
	if err != nil {
		d.fail(n, path, fix, "%v", err)
		return
	}
	if v.OverflowInt(size) {
		d.fail(n, path, "use a smaller size", "%s is too large", n.Value)
		return
	}
	v.SetInt(size)
}

// unknownFieldFix suggests the field the user probably meant: a close
// sibling, or an exact match one level down ("did you mean process.command?").
// meant is the suggested field's path relative to t ("" when none).
func unknownFieldFix(key string, t reflect.Type, names []string) (fix, meant string) {
	if s := suggest(key, names); s != "" {
		return fmt.Sprintf("did you mean %q?", s), s
	}
	for _, f := range yamlFields(t) {
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || ft == durationType {
			continue
		}
		for _, sub := range yamlFields(ft) {
			if sub.name == key {
				return fmt.Sprintf("did you mean %q?", f.name+"."+sub.name), ""
			}
		}
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return "known fields: " + strings.Join(sorted, ", "), ""
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write it as indented key: value lines", "expected a mapping, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	var order []string
	for _, p := range d.pairs(n, path) {
		fp := joinPath(path, p.key.Value)
		d.src.keys[fp] = position{p.key.Line, p.key.Column}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.value, elem, fp)
		v.SetMapIndex(reflect.ValueOf(p.key.Value), elem)
		order = append(order, p.key.Value)
	}
	d.src.order[path] = order
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, fmt.Sprintf("write a list, e.g. [%s]", n.Value), "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.src.keys[ip] = position{item.Line, item.Column}
		d.decode(item, s.Index(i), ip)
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "expected %s, got %s", kindWord(v.Kind()), describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "use true or false", "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Tag != "!!int" || n.Decode(&i) != nil {
			d.fail(n, path, "use a whole number", "expected an integer, got %q", n.Value)
			return
		}
		if v.OverflowInt(i) {
			d.fail(n, path, "use a smaller number", "%s is too large", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, "use a number such as 0.99", "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "", "cannot read a value of Go type %s", v.Type())
	}
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return "a value"
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	const fix = "write a number with a unit (ms, s, m, h), e.g. 30s or 1m30s"
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, fix, "expected a duration like 30s, got %s", describe(n))
		return
	}
	if n.Tag == "!!int" && n.Value != "0" {
		d.fail(n, path, fmt.Sprintf("add a unit, e.g. %ss", n.Value), "expected a duration like 30s, got %s", n.Value)
		return
	}
	dur, err := ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, fix, "%v", err)
		return
	}
	if dur < 0 {
		d.fail(n, path, "use 0 or a positive duration", "must not be negative, got %s", n.Value)
		return
	}
	v.SetInt(int64(dur))
}
