// The pulumi-openstack SDK addresses resources and functions by its own type tokens; this file maps the
// Terraform provider's names to them, from the table in tokens.txt.

package main

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

//go:embed tokens.txt
var tokenTable string

// addTokens fills info's Resources and DataSources from the table. A malformed or repeated line is an error:
// a line silently skipped would leave that resource without its SDK token.
func addTokens(info *tfbridge.ProviderInfo, table string) error {
	for n, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 || (f[0] != "R" && f[0] != "D") {
			return fmt.Errorf("tokens.txt:%d: want `R|D <terraform name> <pulumi token>`, got %q", n+1, line)
		}
		_, dupR := info.Resources[f[1]]
		_, dupD := info.DataSources[f[1]]
		switch {
		case f[0] == "R" && !dupR:
			info.Resources[f[1]] = &tfbridge.ResourceInfo{Tok: tokens.Type(f[2])}
		case f[0] == "D" && !dupD:
			info.DataSources[f[1]] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(f[2])}
		default:
			return fmt.Errorf("tokens.txt:%d: %s %s is listed twice", n+1, f[0], f[1])
		}
	}
	return nil
}
