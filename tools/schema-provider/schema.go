package main

// The provider schemas, read from Terraform's own `terraform providers schema -json` format
// (optionally gzip-compressed), and turned into the plugin protocol's types.

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

type jsonFile struct {
	FormatVersion   string                  `json:"format_version"`
	ProviderSchemas map[string]jsonProvider `json:"provider_schemas"`
}

type jsonProvider struct {
	Provider          *jsonSchema            `json:"provider"`
	ResourceSchemas   map[string]*jsonSchema `json:"resource_schemas"`
	DataSourceSchemas map[string]*jsonSchema `json:"data_source_schemas"`
}

type jsonSchema struct {
	Version int64      `json:"version"`
	Block   *jsonBlock `json:"block"`
}

type jsonBlock struct {
	Attributes map[string]*jsonAttribute `json:"attributes"`
	BlockTypes map[string]*jsonBlockType `json:"block_types"`
}

type jsonAttribute struct {
	Type       json.RawMessage `json:"type"`
	NestedType *jsonNested     `json:"nested_type"`
	Required   bool            `json:"required"`
	Optional   bool            `json:"optional"`
	Computed   bool            `json:"computed"`
	Sensitive  bool            `json:"sensitive"`
}

type jsonNested struct {
	Attributes  map[string]*jsonAttribute `json:"attributes"`
	NestingMode string                    `json:"nesting_mode"`
}

type jsonBlockType struct {
	NestingMode string     `json:"nesting_mode"`
	Block       *jsonBlock `json:"block"`
	MinItems    int64      `json:"min_items"`
	MaxItems    int64      `json:"max_items"`
}

// Block is a schema block with what the plan and apply logic needs: the value type of every
// attribute and nested block, and which attributes the provider computes.
type Block struct {
	Attributes map[string]*Attribute
	BlockTypes map[string]*NestedBlock
}

type Attribute struct {
	Type      tftypes.Type
	Nested    *NestedObject
	Required  bool
	Optional  bool
	Computed  bool
	Sensitive bool
}

type NestedObject struct {
	Attributes map[string]*Attribute
	Nesting    string
}

type NestedBlock struct {
	Nesting  string
	Block    *Block
	MinItems int64
	MaxItems int64
}

// Provider is one provider's schemas.
type Provider struct {
	Name        string
	Config      *Block
	Resources   map[string]*Block
	DataSources map[string]*Block
}

func loadProvider(dir, name string) (*Provider, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var path string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, name+"-") && (strings.HasSuffix(n, ".tfschema.json") || strings.HasSuffix(n, ".tfschema.json.gz")) {
			path = dir + "/" + n
		}
	}
	if path == "" {
		return nil, fmt.Errorf("no schema for provider %q in %s (expected %s-<version>.tfschema.json[.gz])", name, dir, name)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = gz
	}
	var jf jsonFile
	if err := json.NewDecoder(r).Decode(&jf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var jp *jsonProvider
	for source, p := range jf.ProviderSchemas {
		if strings.HasSuffix(source, "/"+name) {
			p := p
			jp = &p
		}
	}
	if jp == nil {
		return nil, fmt.Errorf("%s has no schema for provider %q", path, name)
	}
	p := &Provider{Name: name, Resources: map[string]*Block{}, DataSources: map[string]*Block{}}
	if p.Config, err = convertSchema(jp.Provider); err != nil {
		return nil, fmt.Errorf("provider configuration: %w", err)
	}
	for t, s := range jp.ResourceSchemas {
		if p.Resources[t], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("resource %s: %w", t, err)
		}
	}
	for t, s := range jp.DataSourceSchemas {
		if p.DataSources[t], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("data source %s: %w", t, err)
		}
	}
	return p, nil
}

func convertSchema(s *jsonSchema) (*Block, error) {
	if s == nil || s.Block == nil {
		return &Block{Attributes: map[string]*Attribute{}, BlockTypes: map[string]*NestedBlock{}}, nil
	}
	return convertBlock(s.Block)
}

func convertBlock(b *jsonBlock) (*Block, error) {
	out := &Block{Attributes: map[string]*Attribute{}, BlockTypes: map[string]*NestedBlock{}}
	var err error
	for n, a := range b.Attributes {
		if out.Attributes[n], err = convertAttribute(a); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	for n, bt := range b.BlockTypes {
		inner, err := convertBlock(bt.Block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out.BlockTypes[n] = &NestedBlock{Nesting: bt.NestingMode, Block: inner, MinItems: bt.MinItems, MaxItems: bt.MaxItems}
	}
	return out, nil
}

func convertAttribute(a *jsonAttribute) (*Attribute, error) {
	out := &Attribute{Required: a.Required, Optional: a.Optional, Computed: a.Computed, Sensitive: a.Sensitive}
	if a.NestedType != nil {
		obj := &NestedObject{Attributes: map[string]*Attribute{}, Nesting: a.NestedType.NestingMode}
		for n, na := range a.NestedType.Attributes {
			c, err := convertAttribute(na)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			obj.Attributes[n] = c
		}
		out.Nested = obj
		return out, nil
	}
	t, err := tftypes.ParseJSONType(a.Type)
	if err != nil {
		return nil, err
	}
	out.Type = t
	return out, nil
}

// ValueType is the type of the attribute's value.
func (a *Attribute) ValueType() tftypes.Type {
	if a.Nested == nil {
		return a.Type
	}
	obj := a.Nested.objectType()
	switch a.Nested.Nesting {
	case "list":
		return tftypes.List{ElementType: obj}
	case "set":
		return tftypes.Set{ElementType: obj}
	case "map":
		return tftypes.Map{ElementType: obj}
	default:
		return obj
	}
}

func (o *NestedObject) objectType() tftypes.Object {
	types := map[string]tftypes.Type{}
	for n, a := range o.Attributes {
		types[n] = a.ValueType()
	}
	return tftypes.Object{AttributeTypes: types}
}

// ObjectType is the type of a value of the block.
func (b *Block) ObjectType() tftypes.Object {
	types := map[string]tftypes.Type{}
	for n, a := range b.Attributes {
		types[n] = a.ValueType()
	}
	for n, nb := range b.BlockTypes {
		types[n] = nb.ValueType()
	}
	return tftypes.Object{AttributeTypes: types}
}

func (nb *NestedBlock) ValueType() tftypes.Type {
	obj := nb.Block.ObjectType()
	switch nb.Nesting {
	case "list":
		return tftypes.List{ElementType: obj}
	case "set":
		return tftypes.Set{ElementType: obj}
	case "map":
		return tftypes.Map{ElementType: obj}
	default:
		return obj
	}
}

// ---- to the plugin protocol ----------------------------------------------------------------

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (b *Block) protocol() *tfprotov6.SchemaBlock {
	out := &tfprotov6.SchemaBlock{}
	for _, n := range sortedKeys(b.Attributes) {
		out.Attributes = append(out.Attributes, b.Attributes[n].protocol(n))
	}
	for _, n := range sortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[n]
		out.BlockTypes = append(out.BlockTypes, &tfprotov6.SchemaNestedBlock{
			TypeName: n,
			Block:    nb.Block.protocol(),
			Nesting:  blockNesting(nb.Nesting),
			MinItems: nb.MinItems,
			MaxItems: nb.MaxItems,
		})
	}
	return out
}

func (a *Attribute) protocol(name string) *tfprotov6.SchemaAttribute {
	out := &tfprotov6.SchemaAttribute{
		Name:      name,
		Required:  a.Required,
		Optional:  a.Optional,
		Computed:  a.Computed,
		Sensitive: a.Sensitive,
	}
	if a.Nested == nil {
		out.Type = a.Type
		return out
	}
	obj := &tfprotov6.SchemaObject{Nesting: objectNesting(a.Nested.Nesting)}
	for _, n := range sortedKeys(a.Nested.Attributes) {
		obj.Attributes = append(obj.Attributes, a.Nested.Attributes[n].protocol(n))
	}
	out.NestedType = obj
	return out
}

func blockNesting(m string) tfprotov6.SchemaNestedBlockNestingMode {
	switch m {
	case "single":
		return tfprotov6.SchemaNestedBlockNestingModeSingle
	case "list":
		return tfprotov6.SchemaNestedBlockNestingModeList
	case "set":
		return tfprotov6.SchemaNestedBlockNestingModeSet
	case "map":
		return tfprotov6.SchemaNestedBlockNestingModeMap
	case "group":
		return tfprotov6.SchemaNestedBlockNestingModeGroup
	}
	return tfprotov6.SchemaNestedBlockNestingModeInvalid
}

func objectNesting(m string) tfprotov6.SchemaObjectNestingMode {
	switch m {
	case "single":
		return tfprotov6.SchemaObjectNestingModeSingle
	case "list":
		return tfprotov6.SchemaObjectNestingModeList
	case "set":
		return tfprotov6.SchemaObjectNestingModeSet
	case "map":
		return tfprotov6.SchemaObjectNestingModeMap
	}
	return tfprotov6.SchemaObjectNestingModeInvalid
}
