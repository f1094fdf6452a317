// hatang's OpenStack resource plugin (built by hatang's scripts/pulumi-tools), because the proxy does not serve
// upstream's (pulumi-openstack/provider/v5 answers 403): the Terraform OpenStack provider behind Pulumi's
// Terraform bridge, answering to the type tokens of the pulumi-openstack Python SDK (tokens.go).
//
// This file: the provider's identity and the one field whose SDK name is not the bridge's default.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// Set with -ldflags -X main.version=...
var version = "0.0.0"

func main() {
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(openstack.Provider()),
		Name:        "openstack",
		Version:     version,
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	if err := addTokens(&info, tokenTable); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-openstack: %v\n", err)
		os.Exit(1)
	}
	// The one top-level field whose SDK name is not the bridge's default (upstream renames it).
	info.Resources["openstack_orchestration_stack_v1"].Fields = map[string]*tfbridge.SchemaInfo{
		"outputs": {Name: "StackOutputs"},
	}
	tfbridge.Main("openstack", version, info, []byte(`{"name":"openstack","version":"`+version+`"}`))
}
