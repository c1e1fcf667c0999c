// Command schema-provider is a Terraform provider plugin that knows only schemas: it serves the
// published schema of hashicorp/aws, hashicorp/helm or hashicorp/kubernetes (chosen by the name
// it is installed under, terraform-provider-<name>) so that Terraform and OpenTofu can run
// `validate`, `plan` and `apply` on Sovereign's rendered trees without a cloud or the real
// provider binaries.
//
// Validation: no findings of its own (Terraform core checks the configuration against the
// schema). Plan: the proposed state with every computed attribute the configuration left null
// unknown, plus the plan-time facts in emulations.go. Apply and data sources: the planned state
// with every unknown filled by a plausible value of its type (values.go).
//
// It reads the schemas from SOVEREIGN_PROVIDER_SCHEMAS (a directory of
// <name>-<version>.tfschema.json[.gz] files in the format of `terraform providers schema -json`).
// SOVEREIGN_FAKE_FAIL=<resource type>[,<type>...] makes the apply of those resource types fail,
// for tests of what happens after a failed apply.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

func main() {
	name := providerName(os.Args[0])
	dir := os.Getenv("SOVEREIGN_PROVIDER_SCHEMAS")
	if dir == "" {
		fmt.Fprintln(os.Stderr, "schema-provider: set SOVEREIGN_PROVIDER_SCHEMAS to the directory of the provider schemas")
		os.Exit(2)
	}
	p, err := loadProvider(dir, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "schema-provider: %v\n", err)
		os.Exit(2)
	}
	s := newServer(p, strings.Split(os.Getenv("SOVEREIGN_FAKE_FAIL"), ","))
	if err := tf6server.Serve("registry.terraform.io/hashicorp/"+name, s.factory); err != nil {
		fmt.Fprintf(os.Stderr, "schema-provider: %v\n", err)
		os.Exit(1)
	}
}

// providerName reads `aws` from `terraform-provider-aws_v6.25.0` or `terraform-provider-aws`.
func providerName(arg0 string) string {
	base := filepath.Base(arg0)
	base = strings.TrimPrefix(base, "terraform-provider-")
	if i := strings.Index(base, "_"); i >= 0 {
		base = base[:i]
	}
	return base
}
