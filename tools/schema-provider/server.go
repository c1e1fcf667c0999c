package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

type server struct {
	p      *Provider
	fail   map[string]bool
	schema *tfprotov6.GetProviderSchemaResponse
}

func newServer(p *Provider, fail []string) *server {
	s := &server{p: p, fail: map[string]bool{}}
	for _, f := range fail {
		if f != "" {
			s.fail[f] = true
		}
	}
	resp := &tfprotov6.GetProviderSchemaResponse{
		ServerCapabilities: &tfprotov6.ServerCapabilities{PlanDestroy: true},
		Provider:           &tfprotov6.Schema{Block: p.Config.protocol()},
		ResourceSchemas:    map[string]*tfprotov6.Schema{},
		DataSourceSchemas:  map[string]*tfprotov6.Schema{},
	}
	for t, b := range p.Resources {
		resp.ResourceSchemas[t] = &tfprotov6.Schema{Block: b.protocol()}
	}
	for t, b := range p.DataSources {
		resp.DataSourceSchemas[t] = &tfprotov6.Schema{Block: b.protocol()}
	}
	s.schema = resp
	return s
}

func (s *server) factory() tfprotov6.ProviderServer { return s }

func errorDiag(summary string, err error) []*tfprotov6.Diagnostic {
	return []*tfprotov6.Diagnostic{{
		Severity: tfprotov6.DiagnosticSeverityError,
		Summary:  summary,
		Detail:   err.Error(),
	}}
}

func (s *server) resource(t string) (*Block, error) {
	b, ok := s.p.Resources[t]
	if !ok {
		return nil, fmt.Errorf("the %s provider has no resource type %q", s.p.Name, t)
	}
	return b, nil
}

// ---- provider ------------------------------------------------------------------------------

func (s *server) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp := &tfprotov6.GetMetadataResponse{ServerCapabilities: s.schema.ServerCapabilities}
	for t := range s.p.Resources {
		resp.Resources = append(resp.Resources, tfprotov6.ResourceMetadata{TypeName: t})
	}
	for t := range s.p.DataSources {
		resp.DataSources = append(resp.DataSources, tfprotov6.DataSourceMetadata{TypeName: t})
	}
	return resp, nil
}

func (s *server) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return s.schema, nil
}

func (s *server) GetResourceIdentitySchemas(context.Context, *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov6.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov6.ResourceIdentitySchema{}}, nil
}

func (s *server) ValidateProviderConfig(_ context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return &tfprotov6.ValidateProviderConfigResponse{PreparedConfig: req.Config}, nil
}

func (s *server) ConfigureProvider(context.Context, *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return &tfprotov6.ConfigureProviderResponse{}, nil
}

func (s *server) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return &tfprotov6.StopProviderResponse{}, nil
}

// ---- resources -----------------------------------------------------------------------------

// ValidateResourceConfig does what Terraform core leaves to the provider: an attribute the
// provider computes alone (neither required nor optional) cannot be set in configuration.
func (s *server) ValidateResourceConfig(_ context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	b, err := s.resource(req.TypeName)
	if err != nil {
		return &tfprotov6.ValidateResourceConfigResponse{Diagnostics: errorDiag("unknown resource type", err)}, nil
	}
	return &tfprotov6.ValidateResourceConfigResponse{Diagnostics: s.computedOnlySet(b, req.Config)}, nil
}

func (s *server) computedOnlySet(b *Block, config *tfprotov6.DynamicValue) []*tfprotov6.Diagnostic {
	v, err := config.Unmarshal(b.ObjectType())
	if err != nil {
		return errorDiag("cannot read the configuration", err)
	}
	var diags []*tfprotov6.Diagnostic
	var walk func(b *Block, v tftypes.Value, path *tftypes.AttributePath)
	walk = func(b *Block, v tftypes.Value, path *tftypes.AttributePath) {
		if v.IsNull() || !v.IsKnown() {
			return
		}
		var m map[string]tftypes.Value
		if v.As(&m) != nil {
			return
		}
		for n, a := range b.Attributes {
			if a.Computed && !a.Optional && !a.Required && !m[n].IsNull() {
				diags = append(diags, &tfprotov6.Diagnostic{
					Severity:  tfprotov6.DiagnosticSeverityError,
					Summary:   "Value for unconfigurable attribute",
					Detail:    fmt.Sprintf("Can't configure a value for %q: its value will be decided automatically based on the result of applying this configuration.", n),
					Attribute: path.WithAttributeName(n),
				})
			}
		}
		for n, nb := range b.BlockTypes {
			_, _ = mapBlock(nb, m[n], func(inner *Block, e tftypes.Value) (tftypes.Value, error) {
				walk(inner, e, path.WithAttributeName(n))
				return e, nil
			})
		}
	}
	walk(b, v, tftypes.NewAttributePath())
	return diags
}

func (s *server) UpgradeResourceState(_ context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	b, err := s.resource(req.TypeName)
	if err != nil {
		return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: errorDiag("unknown resource type", err)}, nil
	}
	t := b.ObjectType()
	v, err := req.RawState.UnmarshalWithOpts(t, tfprotov6.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: errorDiag("cannot read the stored state", err)}, nil
	}
	dv, err := tfprotov6.NewDynamicValue(t, v)
	if err != nil {
		return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: errorDiag("cannot encode the state", err)}, nil
	}
	return &tfprotov6.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

func (s *server) ReadResource(_ context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return &tfprotov6.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}, nil
}

func (s *server) PlanResourceChange(_ context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	b, err := s.resource(req.TypeName)
	if err != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: errorDiag("unknown resource type", err)}, nil
	}
	t := b.ObjectType()
	proposed, err := req.ProposedNewState.Unmarshal(t)
	if err != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: errorDiag("cannot read the proposed state", err)}, nil
	}
	planned, err := planBlock(b, proposed)
	if err == nil {
		planned, err = emulatePlan(req.TypeName, b, planned)
	}
	if err != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: errorDiag("cannot plan", err)}, nil
	}
	dv, err := tfprotov6.NewDynamicValue(t, planned)
	if err != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: errorDiag("cannot encode the plan", err)}, nil
	}
	return &tfprotov6.PlanResourceChangeResponse{PlannedState: &dv, PlannedPrivate: req.PriorPrivate}, nil
}

func (s *server) ApplyResourceChange(_ context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	b, err := s.resource(req.TypeName)
	if err != nil {
		return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: errorDiag("unknown resource type", err)}, nil
	}
	t := b.ObjectType()
	planned, err := req.PlannedState.Unmarshal(t)
	if err != nil {
		return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: errorDiag("cannot read the planned state", err)}, nil
	}
	if planned.IsNull() {
		// A destroy: nothing to do.
		return &tfprotov6.ApplyResourceChangeResponse{NewState: req.PlannedState}, nil
	}
	if s.fail[req.TypeName] {
		return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: errorDiag(
			"injected failure",
			fmt.Errorf("SOVEREIGN_FAKE_FAIL makes every apply of %s fail", req.TypeName),
		)}, nil
	}
	seed := seedOf(req.Config)
	f := &filler{typeName: req.TypeName, seed: seed, provider: s.p.Name}
	applied, err := emulateApply(req.TypeName, f.fill(nil, t, planned))
	if err != nil {
		return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: errorDiag("cannot apply", err)}, nil
	}
	dv, err := tfprotov6.NewDynamicValue(t, applied)
	if err != nil {
		return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: errorDiag("cannot encode the new state", err)}, nil
	}
	return &tfprotov6.ApplyResourceChangeResponse{NewState: &dv, Private: req.PlannedPrivate}, nil
}

// seedOf makes placeholders differ between resources of one type: the configuration's bytes.
func seedOf(v *tfprotov6.DynamicValue) string {
	if v == nil {
		return ""
	}
	if len(v.JSON) > 0 {
		return string(v.JSON)
	}
	return string(v.MsgPack)
}

func (s *server) ImportResourceState(_ context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return &tfprotov6.ImportResourceStateResponse{Diagnostics: errorDiag("import is not supported",
		fmt.Errorf("the schema provider cannot import %s", req.TypeName))}, nil
}

func (s *server) MoveResourceState(context.Context, *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return &tfprotov6.MoveResourceStateResponse{Diagnostics: errorDiag("move is not supported", fmt.Errorf("the schema provider cannot move state"))}, nil
}

func (s *server) UpgradeResourceIdentity(context.Context, *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return &tfprotov6.UpgradeResourceIdentityResponse{}, nil
}

func (s *server) GenerateResourceConfig(context.Context, *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return &tfprotov6.GenerateResourceConfigResponse{Diagnostics: errorDiag("not supported", fmt.Errorf("the schema provider generates no configuration"))}, nil
}

// ---- data sources --------------------------------------------------------------------------

func (s *server) ValidateDataResourceConfig(context.Context, *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return &tfprotov6.ValidateDataResourceConfigResponse{}, nil
}

func (s *server) ReadDataSource(_ context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	b, ok := s.p.DataSources[req.TypeName]
	if !ok {
		return &tfprotov6.ReadDataSourceResponse{Diagnostics: errorDiag("unknown data source",
			fmt.Errorf("the %s provider has no data source %q", s.p.Name, req.TypeName))}, nil
	}
	t := b.ObjectType()
	config, err := req.Config.Unmarshal(t)
	if err != nil {
		return &tfprotov6.ReadDataSourceResponse{Diagnostics: errorDiag("cannot read the configuration", err)}, nil
	}
	// What the read returns: the configuration with every computed attribute filled.
	planned, err := planBlock(b, config)
	if err != nil {
		return &tfprotov6.ReadDataSourceResponse{Diagnostics: errorDiag("cannot read", err)}, nil
	}
	f := &filler{typeName: req.TypeName, seed: seedOf(req.Config), provider: s.p.Name}
	state := f.fill(nil, t, planned)
	dv, err := tfprotov6.NewDynamicValue(t, state)
	if err != nil {
		return &tfprotov6.ReadDataSourceResponse{Diagnostics: errorDiag("cannot encode", err)}, nil
	}
	return &tfprotov6.ReadDataSourceResponse{State: &dv}, nil
}

// ---- what the protocol has beyond resources and data sources: none of it is used ------------

func (s *server) CallFunction(context.Context, *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return &tfprotov6.CallFunctionResponse{}, nil
}

func (s *server) GetFunctions(context.Context, *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return &tfprotov6.GetFunctionsResponse{Functions: map[string]*tfprotov6.Function{}}, nil
}

func (s *server) ValidateEphemeralResourceConfig(context.Context, *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return &tfprotov6.ValidateEphemeralResourceConfigResponse{}, nil
}

func (s *server) OpenEphemeralResource(context.Context, *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return &tfprotov6.OpenEphemeralResourceResponse{}, nil
}

func (s *server) RenewEphemeralResource(context.Context, *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return &tfprotov6.RenewEphemeralResourceResponse{}, nil
}

func (s *server) CloseEphemeralResource(context.Context, *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return &tfprotov6.CloseEphemeralResourceResponse{}, nil
}

