package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/spf13/cobra"
)

func (m *Main) meterCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "meter", Short: "Meter keys and signing, as a meter vendor's tool"}
	cmd.AddCommand(m.meterKeygenCommand(), m.meterSignCommand())
	return cmd
}

func (m *Main) meterKeygenCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make an Ed25519 meter key (0600); prints the public key to register",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return greenmint.Errorf(greenmint.ECONFLICT, "%s exists; a meter key is never overwritten (give another --out)", out)
			}
			if err != nil {
				return &greenmint.Error{Code: greenmint.EINVALID, Message: "--out", Err: err}
			}
			_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "ED25519 SEED", Bytes: priv.Seed()}))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			pk := base64.StdEncoding.EncodeToString(pub)
			return m.emit(map[string]string{"key_file": out, "public_key": pk}, "public key (base64, for the registration file's public_key): "+pk)
		},
	}
	cmd.Flags().StringVar(&out, "out", "meter.key", "where to write the private key (a new file)")
	return cmd
}

// meterKey reads a meter's key written by `meter keygen`.
func meterKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "--key", Err: err}
	}
	blk, _ := pem.Decode(raw)
	if blk == nil || blk.Type != "ED25519 SEED" || len(blk.Bytes) != ed25519.SeedSize {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s is not a meter key (greenmint meter keygen writes one)", path)
	}
	return ed25519.NewKeyFromSeed(blk.Bytes), nil
}

func (m *Main) meterSignCommand() *cobra.Command {
	var keyFile, in, out string
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign the readings of a CSV (no signature column, or one empty or stale) with a meter key",
		Long: "Reads a CSV of readings, with the header " + unsignedHeader + " (a meter vendor's\n" +
			"unsigned export) or " + oracle.CSVHeader + " (its signatures empty or stale), signs every row\n" +
			"with the meter's key and writes the signed CSV to --out (standard output by default). A row that does not parse stops\n" +
			"the command with its line; nothing is written for a file with a bad row.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := meterKey(keyFile)
			if err != nil {
				return err
			}
			if m.asJSON && out == "" {
				return greenmint.Errorf(greenmint.EINVALID, "with --json give --out: standard output carries the JSON summary")
			}
			csv, err := signableCSV(in)
			if err != nil {
				return err
			}
			rows, err := oracle.ParseCSV(csv)
			if err != nil {
				return fmt.Errorf("%s: %w", in, err)
			}
			var b strings.Builder
			fmt.Fprintln(&b, oracle.CSVHeader)
			for _, p := range rows {
				if p.Err != nil {
					return fmt.Errorf("%s: line %d: %w", in, p.Line, p.Err)
				}
				r := p.Reading
				if err := greenmint.SignReading(&r, key); err != nil {
					return err
				}
				fmt.Fprintln(&b, oracle.FormatCSVRow(r))
			}
			if out == "" {
				_, err := io.WriteString(m.Out, b.String())
				return err
			}
			if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
				return err
			}
			return m.emit(map[string]any{"in": in, "out": out, "signed": len(rows)}, fmt.Sprintf("%d readings signed into %s", len(rows), out))
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "meter.key", "the meter's key (greenmint meter keygen)")
	cmd.Flags().StringVar(&in, "in", "", "CSV to sign (header "+unsignedHeader+"[,signature])")
	cmd.Flags().StringVar(&out, "out", "", "signed CSV (default standard output)")
	_ = cmd.MarkFlagRequired("in")
	return cmd
}

// unsignedHeader is the header of a meter vendor's unsigned export: the
// readings' columns without the signature.
var unsignedHeader = strings.TrimSuffix(oracle.CSVHeader, ",signature")

// signableCSV turns a CSV to sign into the oracle's wire form with a
// placeholder signature on every row: the header is either the wire form's
// (its signature column empty or stale) or the same without the signature
// column. A byte-order mark and CRLF line ends are accepted.
func signableCSV(path string) (io.Reader, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "--in", Err: err}
	}
	placeholder := base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
	lines := strings.Split(strings.TrimPrefix(string(raw), "\ufeff"), "\n")
	var b strings.Builder
	unsigned, header := false, true
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if header {
			if strings.TrimSpace(line) == "" {
				continue
			}
			switch line {
			case oracle.CSVHeader:
			case unsignedHeader:
				unsigned = true
			default:
				return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the header is %q; want %q, or %q for unsigned readings", path, line, oracle.CSVHeader, unsignedHeader)
			}
			b.WriteString(oracle.CSVHeader + "\n")
			header = false
			continue
		}
		switch {
		case strings.TrimSpace(line) == "":
		case unsigned:
			line += "," + placeholder
		case strings.HasSuffix(line, ","):
			line += placeholder
		}
		b.WriteString(line + "\n")
	}
	if header {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s is empty: want the header %q", path, unsignedHeader)
	}
	return strings.NewReader(b.String()), nil
}
