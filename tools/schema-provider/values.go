package main

// What the fake provider does to values: a plan leaves every computed attribute the
// configuration did not set unknown (with the few plan-time facts the real providers compute,
// listed in emulations.go); an apply, and a data source read, fill every unknown with a
// plausible value of its type.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// planBlock returns `v` (a value of block `b`) with every computed attribute that is null
// made unknown, nested blocks and nested attributes included.
func planBlock(b *Block, v tftypes.Value) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	var m map[string]tftypes.Value
	if err := v.As(&m); err != nil {
		return v, err
	}
	for n, a := range b.Attributes {
		av, ok := m[n]
		if !ok {
			av = tftypes.NewValue(a.ValueType(), nil)
		}
		if a.Computed && av.IsNull() {
			m[n] = tftypes.NewValue(a.ValueType(), tftypes.UnknownValue)
			continue
		}
		if a.Nested != nil && av.IsKnown() && !av.IsNull() {
			nv, err := mapNested(a, av, func(obj *Block, ov tftypes.Value) (tftypes.Value, error) {
				return planBlock(obj, ov)
			})
			if err != nil {
				return v, fmt.Errorf("%s: %w", n, err)
			}
			m[n] = nv
		} else {
			m[n] = av
		}
	}
	for n, nb := range b.BlockTypes {
		bv, ok := m[n]
		if !ok {
			continue
		}
		nv, err := mapBlock(nb, bv, planBlock)
		if err != nil {
			return v, fmt.Errorf("%s: %w", n, err)
		}
		m[n] = nv
	}
	return tftypes.NewValue(b.ObjectType(), m), nil
}

// mapBlock applies `f` to every element of a nested block's value.
func mapBlock(nb *NestedBlock, v tftypes.Value, f func(*Block, tftypes.Value) (tftypes.Value, error)) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	return mapCollection(nb.Nesting, nb.ValueType(), v, func(e tftypes.Value) (tftypes.Value, error) {
		return f(nb.Block, e)
	})
}

// mapNested applies `f` to every object of a nested attribute's value.
func mapNested(a *Attribute, v tftypes.Value, f func(*Block, tftypes.Value) (tftypes.Value, error)) (tftypes.Value, error) {
	obj := &Block{Attributes: a.Nested.Attributes, BlockTypes: map[string]*NestedBlock{}}
	return mapCollection(a.Nested.Nesting, a.ValueType(), v, func(e tftypes.Value) (tftypes.Value, error) {
		return f(obj, e)
	})
}

func mapCollection(nesting string, t tftypes.Type, v tftypes.Value, f func(tftypes.Value) (tftypes.Value, error)) (tftypes.Value, error) {
	switch nesting {
	case "list", "set":
		var items []tftypes.Value
		if err := v.As(&items); err != nil {
			return v, err
		}
		for i, e := range items {
			ne, err := f(e)
			if err != nil {
				return v, err
			}
			items[i] = ne
		}
		return tftypes.NewValue(t, items), nil
	case "map":
		var items map[string]tftypes.Value
		if err := v.As(&items); err != nil {
			return v, err
		}
		for k, e := range items {
			ne, err := f(e)
			if err != nil {
				return v, err
			}
			items[k] = ne
		}
		return tftypes.NewValue(t, items), nil
	default:
		return f(v)
	}
}

// filler makes plausible values for unknowns: deterministic from the resource type, the
// attribute path and a seed (the resource's planned configuration), so the same plan applies
// to the same values.
type filler struct {
	typeName string
	seed     string
	provider string
}

func (f *filler) fill(path []string, t tftypes.Type, v tftypes.Value) tftypes.Value {
	if !v.IsKnown() {
		return f.placeholder(path, t)
	}
	if v.IsNull() {
		return v
	}
	switch {
	case t.Is(tftypes.Object{}):
		var m map[string]tftypes.Value
		if err := v.As(&m); err != nil {
			return v
		}
		ot := t.(tftypes.Object)
		for n, av := range m {
			m[n] = f.fill(with(path, n), ot.AttributeTypes[n], av)
		}
		return tftypes.NewValue(t, m)
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}):
		var items []tftypes.Value
		if err := v.As(&items); err != nil {
			return v
		}
		et := elementType(t)
		for i, e := range items {
			items[i] = f.fill(with(path, fmt.Sprint(i)), et, e)
		}
		return tftypes.NewValue(t, items)
	case t.Is(tftypes.Map{}):
		var items map[string]tftypes.Value
		if err := v.As(&items); err != nil {
			return v
		}
		et := elementType(t)
		for k, e := range items {
			items[k] = f.fill(with(path, k), et, e)
		}
		return tftypes.NewValue(t, items)
	case t.Is(tftypes.Tuple{}):
		var items []tftypes.Value
		if err := v.As(&items); err != nil {
			return v
		}
		tt := t.(tftypes.Tuple)
		for i, e := range items {
			items[i] = f.fill(with(path, fmt.Sprint(i)), tt.ElementTypes[i], e)
		}
		return tftypes.NewValue(t, items)
	}
	return v
}

func elementType(t tftypes.Type) tftypes.Type {
	switch x := t.(type) {
	case tftypes.List:
		return x.ElementType
	case tftypes.Set:
		return x.ElementType
	case tftypes.Map:
		return x.ElementType
	}
	return tftypes.DynamicPseudoType
}

// placeholder is a value of type `t` for the attribute at `path`: an emulated fact when
// emulations.go has one, else a value shaped like what the attribute holds (an id, an ARN, a
// name) or the simplest of its type. Collections get one element, so `x[0]` works as it would
// on the real resource.
func (f *filler) placeholder(path []string, t tftypes.Type) tftypes.Value {
	key := f.typeName + "." + strings.Join(stripIndexes(path), ".")
	if s, ok := emulatedString(key, f); ok && t.Is(tftypes.String) {
		return tftypes.NewValue(t, s)
	}
	switch {
	case t.Is(tftypes.String):
		return tftypes.NewValue(t, f.stringFor(path))
	case t.Is(tftypes.Number):
		return tftypes.NewValue(t, big.NewFloat(float64(numberFor(path))))
	case t.Is(tftypes.Bool):
		return tftypes.NewValue(t, false)
	case t.Is(tftypes.Object{}):
		ot := t.(tftypes.Object)
		m := map[string]tftypes.Value{}
		for n, at := range ot.AttributeTypes {
			m[n] = f.placeholder(with(path, n), at)
		}
		return tftypes.NewValue(t, m)
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}):
		return tftypes.NewValue(t, []tftypes.Value{f.placeholder(with(path, "0"), elementType(t))})
	case t.Is(tftypes.Map{}):
		return tftypes.NewValue(t, map[string]tftypes.Value{})
	case t.Is(tftypes.Tuple{}):
		tt := t.(tftypes.Tuple)
		items := make([]tftypes.Value, len(tt.ElementTypes))
		for i, et := range tt.ElementTypes {
			items[i] = f.placeholder(with(path, fmt.Sprint(i)), et)
		}
		return tftypes.NewValue(t, items)
	}
	// A dynamic value: a string says the least.
	return tftypes.NewValue(tftypes.String, f.stringFor(path))
}

func stripIndexes(path []string) []string {
	out := make([]string, 0, len(path))
	for _, p := range path {
		if p != "" && (p[0] < '0' || p[0] > '9') {
			out = append(out, p)
		}
	}
	return out
}

func (f *filler) hash(path []string) string {
	h := sha256.Sum256([]byte(f.typeName + "|" + f.seed + "|" + strings.Join(path, ".")))
	return hex.EncodeToString(h[:])[:12]
}

func (f *filler) stringFor(path []string) string {
	name := ""
	if p := stripIndexes(path); len(p) > 0 {
		name = p[len(p)-1]
	}
	h := f.hash(path)
	service := strings.SplitN(strings.TrimPrefix(f.typeName, f.provider+"_"), "_", 2)[0]
	switch {
	case name == "arn" || strings.HasSuffix(name, "_arn"):
		return fmt.Sprintf("arn:aws:%s:eu-west-1:123456789012:%s/%s", service, f.typeName, h)
	case name == "id" || strings.HasSuffix(name, "_id"):
		return fmt.Sprintf("%s-%s", strings.ReplaceAll(f.typeName, "_", "-"), h)
	case strings.Contains(name, "endpoint") || strings.HasSuffix(name, "dns_name") || name == "address" || name == "fqdn":
		return fmt.Sprintf("%s.%s.fake.internal", h, service)
	case strings.Contains(name, "cidr"):
		return "10.255.0.0/24"
	case name == "json" || strings.HasSuffix(name, "_json") || name == "policy":
		return `{"Version":"2012-10-17","Statement":[]}`
	}
	return fmt.Sprintf("fake-%s-%s", name, h)
}

func numberFor(path []string) int64 {
	p := stripIndexes(path)
	if len(p) > 0 && strings.Contains(p[len(p)-1], "port") {
		return 443
	}
	return 1
}

// with is `path` plus one step, in a new slice (appends must not share a backing array).
func with(path []string, step string) []string {
	out := make([]string, len(path)+1)
	copy(out, path)
	out[len(path)] = step
	return out
}
