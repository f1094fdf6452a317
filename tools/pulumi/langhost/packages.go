// The engine installs and starts the resource plugins a program needs before running it; this file tells it
// which, from the pulumi-plugin.json files of the Python packages in the program's environment.

package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// listPlugins is run as `python -c`; it prints one JSON object a line (see list_plugins.py).
//
//go:embed list_plugins.py
var listPlugins string

// GetRequiredPackages reports the resource plugins that the environment's Pulumi packages declare.
func (h *pythonHost) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	opts, err := options(req.Info, false)
	if err != nil {
		return nil, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPlugins)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Pulumi plugins of the Python packages: %w", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, line := range strings.Split(string(out), "\n") {
		var p struct {
			Resource         bool   `json:"resource"`
			Name             string `json:"name"`
			Version          string `json:"version"`
			Server           string `json:"server"`
			Dist             string `json:"dist"`
			DistVersion      string `json:"dist_version"`
			Parameterization *struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Value   []byte `json:"value"`
			} `json:"parameterization"`
		}
		if strings.TrimSpace(line) == "" || json.Unmarshal([]byte(line), &p) != nil || !p.Resource {
			continue
		}
		name, ver := p.Name, p.Version
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(p.Dist, "pulumi-"), "pulumi_")
		}
		if ver == "" {
			ver = p.DistVersion
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		dep := &pulumirpc.PackageDependency{Name: name, Version: ver, Kind: "resource", Server: p.Server}
		if z := p.Parameterization; z != nil {
			dep.Parameterization = &pulumirpc.PackageParameterization{Name: z.Name, Version: z.Version, Value: z.Value}
		}
		resp.Packages = append(resp.Packages, dep)
	}
	return resp, nil
}
