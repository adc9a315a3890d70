package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// deprecatedCommands are the top-level verbs of the previous release, kept
// hidden for one release: each runs its noun-verb command after a note on
// standard error.
func (m *Main) deprecatedCommands() []*cobra.Command {
	var out []*cobra.Command
	for _, d := range []struct {
		old, now string
		make     func() *cobra.Command
	}{
		{"attest", "attestation create", m.attestationCreateCommand},
		{"import", "readings import", m.readingsImportCommand},
		{"register", "registration apply", m.registrationApplyCommand},
		{"proof", "batch proof", m.batchProofCommand},
	} {
		c := d.make()
		c.Use, c.Hidden = d.old, true
		c.Deprecated = "" // cobra's own note would name no replacement
		run, note := c.RunE, fmt.Sprintf("note: `greenmint %s` is deprecated and goes in the next release; use `greenmint %s`\n", d.old, d.now)
		c.RunE = func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(m.Err, note)
			return run(cmd, args)
		}
		out = append(out, c)
	}
	return out
}
