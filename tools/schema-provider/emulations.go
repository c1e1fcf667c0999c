package main

// What the real providers know at plan time, or return from a read, that a schema alone
// cannot tell. Each entry is deliberate, with the provider documentation that shows it;
// anything not listed here is unknown in a plan and a placeholder of its type after an apply.

import (
	"encoding/base64"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// emulatedString is the value an attribute takes instead of a generic placeholder.
func emulatedString(key string, f *filler) (string, bool) {
	switch key {
	// A PEM certificate, base64-encoded, as EKS returns it: configurations decode it with
	// base64decode() (registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/eks_cluster,
	// `certificate_authority.0.data`: "base64 encoded certificate data").
	case "aws_eks_cluster.certificate_authority.data":
		return base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n")), true
	case "aws_eks_cluster.endpoint":
		return "https://" + f.hash([]string{"endpoint"}) + ".gr7.eu-west-1.eks.amazonaws.com", true
	case "aws_eks_cluster.identity.oidc.issuer":
		return "https://oidc.eks.eu-west-1.amazonaws.com/id/" + f.hash([]string{"oidc"}), true
	// Secrets the global root writes as JSON objects ({username, password}); the configurations
	// read them back with jsondecode().
	case "aws_secretsmanager_secret_version.secret_string":
		return `{"username":"sovereignadmin","password":"fake-password"}`, true
	case "aws_secretsmanager_random_password.random_password":
		return "fake-random-password-0123456789", true
	case "aws_eks_cluster_auth.token":
		return "k8s-aws-v1.fake-token", true
	case "aws_partition.partition":
		return "aws", true
	case "aws_partition.dns_suffix":
		return "amazonaws.com", true
	case "aws_caller_identity.account_id":
		return "123456789012", true
	case "aws_ssm_parameter.value", "aws_ssm_parameter.insecure_value":
		return "ami-0123456789abcdef0", true
	}
	return "", false
}

// emulatePlan adds the plan-time facts the real provider computes during planning.
func emulatePlan(typeName string, b *Block, planned tftypes.Value) (tftypes.Value, error) {
	switch typeName {
	case "aws_acm_certificate":
		return acmValidationOptions(b, planned)
	}
	return planned, nil
}

// aws_acm_certificate: with DNS validation the provider knows, when it plans, one validation
// option per domain (the certificate's name and each alternative name), with `domain_name`
// known and the record unknown. The documented pattern
// `for_each = { for o in aws_acm_certificate.x.domain_validation_options : o.domain_name => o }`
// depends on it (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/acm_certificate_validation,
// "DNS Validation with Route 53").
func acmValidationOptions(b *Block, planned tftypes.Value) (tftypes.Value, error) {
	if planned.IsNull() || !planned.IsKnown() {
		return planned, nil
	}
	var m map[string]tftypes.Value
	if err := planned.As(&m); err != nil {
		return planned, err
	}
	dvo, ok := m["domain_validation_options"]
	attr := b.Attributes["domain_validation_options"]
	if !ok || attr == nil || dvo.IsKnown() {
		return planned, nil
	}
	var method string
	if v := m["validation_method"]; v.IsKnown() && !v.IsNull() {
		_ = v.As(&method)
	}
	if method != "DNS" {
		return planned, nil
	}
	var domains []string
	var name string
	if v := m["domain_name"]; !v.IsKnown() {
		return planned, nil
	} else if !v.IsNull() {
		_ = v.As(&name)
		domains = append(domains, name)
	}
	if v := m["subject_alternative_names"]; v.IsKnown() && !v.IsNull() {
		var sans []tftypes.Value
		if err := v.As(&sans); err != nil {
			return planned, err
		}
		for _, s := range sans {
			if !s.IsKnown() {
				return planned, nil
			}
			var d string
			_ = s.As(&d)
			if d != name {
				domains = append(domains, d)
			}
		}
	}
	setType := attr.ValueType()
	objType, ok := elementType(setType).(tftypes.Object)
	if !ok {
		return planned, nil
	}
	var items []tftypes.Value
	for _, d := range domains {
		fields := map[string]tftypes.Value{}
		for n, t := range objType.AttributeTypes {
			if n == "domain_name" {
				fields[n] = tftypes.NewValue(t, d)
			} else {
				fields[n] = tftypes.NewValue(t, tftypes.UnknownValue)
			}
		}
		items = append(items, tftypes.NewValue(objType, fields))
	}
	m["domain_validation_options"] = tftypes.NewValue(setType, items)
	return tftypes.NewValue(planned.Type(), m), nil
}

// emulateApply adds what the real provider's apply (or the service behind it) fills in that a
// placeholder cannot stand for.
func emulateApply(typeName string, applied tftypes.Value) (tftypes.Value, error) {
	switch typeName {
	case "kubernetes_secret_v1", "kubernetes_secret":
		return serviceAccountToken(applied)
	}
	return applied, nil
}

// A secret of type kubernetes.io/service-account-token is filled by Kubernetes's token
// controller with `token`, `ca.crt` and `namespace`; the provider waits for it
// (registry.terraform.io/providers/hashicorp/kubernetes/latest/docs/resources/secret_v1,
// `wait_for_service_account_token`, and its "Example Usage (Service account token)").
func serviceAccountToken(applied tftypes.Value) (tftypes.Value, error) {
	if applied.IsNull() || !applied.IsKnown() {
		return applied, nil
	}
	var m map[string]tftypes.Value
	if err := applied.As(&m); err != nil {
		return applied, err
	}
	var kind string
	if t, ok := m["type"]; ok && t.IsKnown() && !t.IsNull() {
		_ = t.As(&kind)
	}
	data, ok := m["data"]
	if kind != "kubernetes.io/service-account-token" || !ok {
		return applied, nil
	}
	entries := map[string]tftypes.Value{}
	if !data.IsNull() && data.IsKnown() {
		if err := data.As(&entries); err != nil {
			return applied, err
		}
	}
	mt, ok := data.Type().(tftypes.Map)
	if !ok {
		return applied, nil
	}
	for k, v := range map[string]string{
		"token":     "eyJhbGciOiJSUzI1NiJ9.fake-service-account-token",
		"ca.crt":    "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n",
		"namespace": "default",
	} {
		if _, set := entries[k]; !set {
			entries[k] = tftypes.NewValue(mt.ElementType, v)
		}
	}
	m["data"] = tftypes.NewValue(mt, entries)
	return tftypes.NewValue(applied.Type(), m), nil
}
