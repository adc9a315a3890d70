package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/bundle"
	"github.com/spf13/cobra"
)

func (m *Main) verifyCommand() *cobra.Command {
	var head, mspDir string
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a proof bundle offline: the ledger's blocks and signatures, the attestation, every quantity; names each check that fails (docs/verify.md)",
		Long: "Check a proof bundle offline, with no server: the ledger's blocks (the embedded ledger's hash chain to its head,\n" +
			"or Fabric's orderer signatures and endorsements against the channel's MSP certificates), every object the bundle\n" +
			"copies against the transaction that wrote it, the oracle signatures (R5), each hour's arithmetic and the totals\n" +
			"(R2), the quantity by the instrument's formula, the dataset pin (R9), the readings' Merkle root and signatures,\n" +
			"the batch's history (R3) and the retirement. Prints each check with its result; exits 4 (conflict) naming every\n" +
			"check that failed. --head and --msp-dir pin what the bundle's trust rests on (docs/verify.md).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return greenmint.E(greenmint.ENOTFOUND, "", err, "bundle %s", args[0])
			}
			bd, err := bundle.Decode(raw)
			if err != nil {
				return fmt.Errorf("bundle %s: %w", args[0], err)
			}
			opts := bundle.VerifyOptions{Head: head}
			if mspDir != "" {
				if opts.Roots, err = readRoots(mspDir); err != nil {
					return err
				}
			}
			rep := bundle.Verify(bd, opts)
			var human bytes.Buffer
			if err := rep.Print(&human); err != nil {
				return err
			}
			failed := rep.Failed()
			if len(failed) == 0 {
				fmt.Fprintf(&human, "verified: %s %s, %d checks passed", bd.Subject.Kind, bd.Subject.ID, len(rep.Checks))
			} else {
				fmt.Fprintf(&human, "NOT verified: %s %s, %d of %d checks failed", bd.Subject.Kind, bd.Subject.ID, len(failed), len(rep.Checks))
			}
			if err := m.emit(rep, human.String()); err != nil {
				return err
			}
			if len(failed) > 0 {
				names := make([]string, len(failed))
				for i, c := range failed {
					names[i] = c.Name
				}
				return greenmint.Errorf(greenmint.ECONFLICT, "%s %s does not verify: %d check(s) failed: %s", bd.Subject.Kind, bd.Subject.ID, len(failed), strings.Join(names, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "the embedded ledger's head hash, obtained independently: the bundle's head must be it")
	cmd.Flags().StringVar(&mspDir, "msp-dir", "", "the organisations' MSP folders (DIR/MSP_ID/msp/cacerts/*.pem), obtained independently: every organisation of the bundle's channel must have exactly these root certificates")
	return cmd
}

// readRoots reads each organisation's root certificates from an MSP
// folder tree: DIR/<MSP ID>/msp/cacerts/*.pem.
func readRoots(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, greenmint.E(greenmint.ENOTFOUND, "", err, "MSP folder %s", dir)
	}
	roots := map[string][]byte{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "msp", "cacerts", "*.pem"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "root certificate %s", f)
			}
			roots[e.Name()] = append(roots[e.Name()], b...)
		}
	}
	if len(roots) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s holds no DIR/MSP_ID/msp/cacerts/*.pem", dir)
	}
	return roots, nil
}
