package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/greenmint/greenmint/workspace"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// config is the workspace configuration the flags give for the workspace
// directory dir: --ledger, --connection, and --db, else $GREENMINT_DB
// (read here, not as the flag's default, so that --help never prints it).
func (m *Main) config(dir string) workspace.Config {
	c := workspace.Config{Dir: dir, Ledger: m.ledgerKind, Connection: m.connection, DB: m.db}
	if c.DB == "" {
		c.DB = os.Getenv("GREENMINT_DB")
	}
	return c
}

// open opens the workspace the commands act on: dir's embedded ledger, or
// with --ledger fabric the network the --connection file names.
func (m *Main) open(dir string) (*workspace.Workspace, error) {
	return workspace.Open(m.config(dir))
}

// tokens is the token configuration of a workspace's settings.
func tokens(s *workspace.Settings) (api.TokenConfig, error) {
	secret, err := s.Secret()
	if err != nil {
		return api.TokenConfig{}, err
	}
	return api.TokenConfig{Secret: secret, Issuer: s.Issuer, Audience: s.Audience}, nil
}

func (m *Main) emit(asJSON bool, v any, human string) error {
	if asJSON {
		enc := json.NewEncoder(m.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(m.Out, human)
	return err
}

func (m *Main) opsCommands() []*cobra.Command {
	var dir string
	var asJSON bool
	var migrateTo int64
	withDir := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&dir, "dir", ".data", "the workspace (greenmint init)")
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
		return c
	}

	var consortiumFile string
	initCmd := withDir(&cobra.Command{
		Use:   "init",
		Short: "Create a workspace: the consortium's organisations and identities, an embedded ledger bootstrapped by the registry, the oracle's database",
		Long: "Creates the organisations, users and oracle keys of the consortium file (--consortium; default the\n" +
			"demo's: docs/consortium.md), an embedded ledger whose registry is the file's registry organisation,\n" +
			"bootstrapped with the file's policy, every organisation admitted to its roles and every oracle\n" +
			"registered, and the oracle's settings and database. With --ledger fabric the network exists\n" +
			"already: only the oracle's settings and database are made.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg := m.config(dir)
			if m.ledgerKind == workspace.Fabric {
				v, err := cfg.InitOracle(ctx)
				if err != nil {
					return err
				}
				return m.emit(asJSON, map[string]any{"dir": dir, "schema_version": v}, fmt.Sprintf("oracle workspace %s for the Fabric network: settings and database at schema %d", dir, v))
			}
			f := consortium.Demo()
			if consortiumFile != "" {
				var err error
				if f, err = consortium.ReadFile(consortiumFile); err != nil {
					return err
				}
			}
			w, err := workspace.Create(cfg, f)
			if err != nil {
				return err
			}
			defer w.Close()
			ds, err := w.Bootstrap(ctx)
			if err != nil {
				return err
			}
			v, err := cfg.InitOracle(ctx)
			if err != nil {
				return err
			}
			members := f.Members()
			out := map[string]any{"dir": dir, "members": members, "registry": f.RegistryMSP(), "oracles": f.Oracles, "policy": f.Policy, "dataset": ds.SHA256, "schema_version": v}
			return m.emit(asJSON, out, fmt.Sprintf("workspace %s: %d organisations, %d members, ledger bootstrapped (registry %s, %d oracles, threshold %d, dataset %s), oracle database at schema %d",
				dir, len(f.Organizations), len(members), f.RegistryMSP(), len(f.Oracles), f.Policy.Threshold, ds.SHA256[:16], v))
		},
	})
	initCmd.Flags().StringVar(&consortiumFile, "consortium", "", "the consortium file: organisations, roles, users, oracles, policy (docs/consortium.md; default the demo's)")

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (SQLite file or postgres:// DSN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := store.Open(m.config(dir).DSN())
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.MigrateTo(cmd.Context(), migrateTo)
			if err != nil {
				return err
			}
			return m.emit(asJSON, map[string]any{"dialect": db.Dialect(), "version": v}, fmt.Sprintf("%s database at schema version %d", db.Dialect(), v))
		},
	}
	migrate.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	migrate.Flags().StringVar(&dir, "dir", ".data", "the workspace whose oracle.db to migrate (unless --db or $GREENMINT_DB names another)")
	migrate.Flags().Int64Var(&migrateTo, "to", -1, "migrate up or down to this schema version (default: the latest)")

	var keyOut, keyFile, in, out string
	meter := &cobra.Command{Use: "meter", Short: "Meter keys and signing, as a meter vendor's tool"}
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Make an Ed25519 meter key; prints the public key to register",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			if err := os.WriteFile(keyOut, pem.EncodeToMemory(&pem.Block{Type: "ED25519 SEED", Bytes: priv.Seed()}), 0o600); err != nil {
				return err
			}
			pk := base64.StdEncoding.EncodeToString(pub)
			return m.emit(asJSON, map[string]string{"key_file": keyOut, "public_key": pk}, "public key (base64, for RegisterMeter): "+pk)
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "meter.key", "where to write the private key")
	keygen.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	sign := &cobra.Command{
		Use:   "sign",
		Short: "Sign the readings of a CSV (signature column empty or stale) with a meter key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			blk, _ := pem.Decode(raw)
			if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
				return greenmint.Errorf(greenmint.EINVALID, "%s is not a meter key", keyFile)
			}
			key := ed25519.NewKeyFromSeed(blk.Bytes)
			f, err := os.Open(in)
			if err != nil {
				return err
			}
			defer f.Close()
			rows, err := oracle.ParseCSV(unsignedCSV(f))
			if err != nil {
				return err
			}
			w := os.Stdout
			if out != "" {
				if w, err = os.Create(out); err != nil {
					return err
				}
				defer w.Close()
			}
			bw := bufio.NewWriter(w)
			fmt.Fprintln(bw, oracle.CSVHeader)
			for _, p := range rows {
				if p.Err != nil {
					return fmt.Errorf("line %d: %s", p.Line, greenmint.ErrorMessage(p.Err))
				}
				r := p.Reading
				if err := greenmint.SignReading(&r, key); err != nil {
					return err
				}
				fmt.Fprintln(bw, oracle.FormatCSVRow(r))
			}
			return bw.Flush()
		},
	}
	sign.Flags().StringVar(&keyFile, "key", "meter.key", "the meter's key")
	sign.Flags().StringVar(&in, "in", "", "CSV to sign (header "+oracle.CSVHeader+")")
	sign.Flags().StringVar(&out, "out", "", "signed CSV (default standard output)")
	meter.AddCommand(keygen, sign)

	var file, asImport, asBatch, asProof, asRegister string
	importCmd := withDir(&cobra.Command{
		Use:   "import",
		Short: "Import readings (CSV, or JSON lines) through the oracle's validation; prints accepted, duplicate and rejected rows with reasons",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, err := m.open(dir)
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			id, err := w.Identity(asImport)
			if err != nil {
				return err
			}
			db, err := w.Config.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := readReadingsFile(file)
			if err != nil {
				return err
			}
			in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: id, TTL: time.Minute}, nil)
			total := &oracle.Summary{}
			var bar *progressbar.ProgressBar
			if !asJSON {
				bar = progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(m.Err), progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount())
			}
			const chunk = 5000
			for i := 0; i < len(rows); i += chunk {
				part := rows[i:min(i+chunk, len(rows))]
				s, err := in.Ingest(ctx, part)
				if err != nil {
					return err
				}
				for j := range s.Results {
					s.Results[j].Index += i
				}
				total.Accepted += s.Accepted
				total.Duplicate += s.Duplicate
				total.Rejected += s.Rejected
				total.Results = append(total.Results, s.Results...)
				if bar != nil {
					_ = bar.Add(len(part))
				}
			}
			if asJSON {
				return m.emit(true, total, "")
			}
			fmt.Fprintf(m.Out, "\n%d accepted, %d duplicate, %d rejected\n", total.Accepted, total.Duplicate, total.Rejected)
			for _, r := range total.Results {
				if r.Outcome == oracle.Rejected {
					fmt.Fprintf(m.Out, "  line %d %s #%d: %s: %s\n", r.Line, r.MeterID, r.Seq, r.Reason, r.Message)
				}
			}
			return nil
		},
	})
	importCmd.Flags().StringVar(&file, "file", "", "readings.csv or readings.jsonl")
	importCmd.Flags().StringVar(&asImport, "as", consortium.OracleAMSP+":oracle", "the oracle identity that reads meters from the ledger")

	var asAttest, site, from, to, instrument, datasetID, datasetVersion, attestPeer, attestPeerToken, attestPeerCA string
	attest := withDir(&cobra.Command{
		Use:   "attest",
		Short: "Build, co-sign (with the workspace's second oracle) and submit an attestation for a site and period",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, err := m.open(dir)
			if err != nil {
				return err
			}
			defer w.Close()
			db, err := w.Config.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			sub, err := w.Submitter(db, asAttest)
			if err != nil {
				return err
			}
			if attestPeer != "" {
				// The peer oracle rebuilds from its own readings, in its own process.
				peer, err := peerCosigner(attestPeer, attestPeerToken, attestPeerCA)
				if err != nil {
					return err
				}
				sub.Peers = []oracle.Cosigner{peer}
			}
			if pending, err := db.Attestations(ctx, store.AttestationSigned); err == nil && len(pending) > 0 {
				var ps []oracle.PendingAttestation
				for _, p := range pending {
					ps = append(ps, oracle.PendingAttestation{ID: p.ID, Signed: p.Signed})
				}
				_, refused, err := sub.Resume(ctx, ps)
				if err != nil {
					return err
				}
				for _, r := range refused {
					fmt.Fprintf(m.Err, "note: a stored %v; marked refused, not submitted again\n", r)
				}
			}
			f, err1 := greenmint.ParseHour(from)
			t, err2 := greenmint.ParseHour(to)
			if err1 != nil || err2 != nil {
				return greenmint.Errorf(greenmint.EINVALID, "--from and --to must be whole hours, RFC 3339 UTC")
			}
			res, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: site, Instrument: greenmint.Instrument(instrument), From: f, To: t,
				Dataset: greenmint.DatasetPin{ID: datasetID, Version: datasetVersion}})
			if err != nil {
				return err
			}
			return m.emit(asJSON, res, fmt.Sprintf("minted batch %s: %d units (attestation %s)", res.BatchID, res.Quantity, res.AttestationID))
		},
	})
	attest.Flags().StringVar(&asAttest, "as", consortium.OracleAMSP+":oracle", "the oracle that builds, signs and submits (the workspace's other oracles co-sign up to the threshold, unless --peer)")
	attest.Flags().StringVar(&site, "site", "", "site ID")
	attest.Flags().StringVar(&from, "from", "", "first hour, e.g. 2023-06-01T00:00:00Z")
	attest.Flags().StringVar(&to, "to", "", "end hour (exclusive)")
	attest.Flags().StringVar(&instrument, "instrument", "CO2E", "EAC or CO2E")
	attest.Flags().StringVar(&datasetID, "dataset", refdata.DefaultDatasetID, "emission-factor dataset ID")
	attest.Flags().StringVar(&attestPeer, "peer", "", "a peer oracle's base URL, asked to co-sign over HTTP (default: the workspace's second oracle, locally)")
	attest.Flags().StringVar(&attestPeerToken, "peer-token", "", "a peer-oracle token the peer issued (default: $GREENMINT_PEER_TOKEN)")
	attest.Flags().StringVar(&attestPeerCA, "peer-ca", "", "PEM file of the CA (or certificate) the peer's TLS certificate chains to, when it is not a public one")
	attest.Flags().StringVar(&datasetVersion, "dataset-version", refdata.DefaultDatasetVersion, "emission-factor dataset version")

	var batchID string
	batch := withDir(&cobra.Command{
		Use:   "show",
		Short: "Show a batch, its attestation's totals and its history",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, id, b, err := m.readBatch(ctx, dir, asBatch, batchID)
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			var hist []greenmint.HistoryEntry
			if err := greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryBatchHistory, greenmint.IDQuery{ID: batchID}, &hist); err != nil {
				return err
			}
			human := fmt.Sprintf("%s %s site %s %s–%s: issued %d = tradable %d + escrowed %d + retired %d + cancelled %d; %d changes",
				b.ID, b.Instrument, b.SiteID, b.PeriodStart, b.PeriodEnd, b.Issued, b.Tradable, b.Escrowed, b.Retired, b.Cancelled, len(hist))
			return m.emit(asJSON, map[string]any{"batch": b, "history": hist}, human)
		},
	})
	batch.Flags().StringVar(&batchID, "id", "", "batch ID")
	batch.Flags().StringVar(&asBatch, "as", consortium.AuditorMSP+":auditor", "who reads")

	var meterID string
	var seq int64
	proof := withDir(&cobra.Command{
		Use:   "proof",
		Short: "Print the Merkle inclusion proof of a reading in a minted batch's attestation, checked against the ledger's root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, id, b, err := m.readBatch(ctx, dir, asProof, batchID)
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			var rec greenmint.AttestationRecord
			if err := greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: b.AttestationID}, &rec); err != nil {
				return err
			}
			db, err := m.config(dir).OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			a := rec.Attestation.Attestation
			ids := append([]string(nil), a.ConsumptionMeters...)
			for _, h := range a.Hours {
				for _, al := range h.Allocations {
					ids = append(ids, al.MeterID)
				}
			}
			f, _ := greenmint.ParseTime(a.PeriodStart)
			t, _ := greenmint.ParseTime(a.PeriodEnd)
			readings, err := db.Readings(ctx, unique(ids), f, t)
			if err != nil {
				return err
			}
			leaf, steps, err := oracle.Proof(readings, meterID, seq)
			if err != nil {
				return err
			}
			root, _ := hex.DecodeString(a.ReadingsRoot)
			var r32 [32]byte
			copy(r32[:], root)
			ok := greenmint.VerifyMerkleProof(leaf, steps, r32)
			out := map[string]any{"batch_id": b.ID, "readings_root": a.ReadingsRoot, "leaf": hex.EncodeToString(leaf[:]), "proof": steps, "verified": ok}
			if !ok {
				return greenmint.Errorf(greenmint.ECONFLICT, "the stored reading does not prove against the ledger's root: it differs from what was attested")
			}
			return m.emit(asJSON, out, fmt.Sprintf("reading %s #%d is in batch %s: %d proof steps to root %s (verified)", meterID, seq, b.ID, len(steps), a.ReadingsRoot))
		},
	})
	proof.Flags().StringVar(&batchID, "batch", "", "batch ID")
	proof.Flags().StringVar(&meterID, "meter", "", "meter ID")
	proof.Flags().Int64Var(&seq, "seq", 0, "reading sequence number")
	proof.Flags().StringVar(&asProof, "as", consortium.AuditorMSP+":auditor", "who reads")

	var approveAs string
	register := withDir(&cobra.Command{
		Use:   "register",
		Short: `Register sites and meters from a file {"sites":[…],"meters":[…]} as a miner; with --approve-asRegister, approve them as the registry`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			raw, err := os.ReadFile(file)
			if err != nil {
				return greenmint.Errorf(greenmint.EINVALID, "registration file: %v", err)
			}
			var reg struct {
				Sites  []greenmint.RegisterSiteRequest  `json:"sites"`
				Meters []greenmint.RegisterMeterRequest `json:"meters"`
			}
			if err := greenmint.DecodeStrict(raw, &reg); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			w, err := m.open(dir)
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			miner, err := w.Identity(asRegister)
			if err != nil {
				return err
			}
			var registry *greenmint.Identity
			if approveAs != "" {
				if registry, err = w.Identity(approveAs); err != nil {
					return err
				}
			}
			var done []string
			for _, s := range reg.Sites {
				if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterSite, s, nil); err != nil {
					return fmt.Errorf("site %s: %w", s.SiteID, err)
				}
				if registry != nil {
					if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: s.SiteID}, nil); err != nil {
						return fmt.Errorf("approving site %s: %w", s.SiteID, err)
					}
				}
				done = append(done, "site "+s.SiteID)
			}
			for _, mr := range reg.Meters {
				if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterMeter, mr, nil); err != nil {
					return fmt.Errorf("meter %s: %w", mr.MeterID, err)
				}
				if registry != nil {
					if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: mr.MeterID}, nil); err != nil {
						return fmt.Errorf("approving meter %s: %w", mr.MeterID, err)
					}
				}
				done = append(done, "meter "+mr.MeterID)
			}
			return m.emit(asJSON, map[string]any{"registered": done, "approved": registry != nil}, fmt.Sprintf("registered %s (approved: %v)", strings.Join(done, ", "), registry != nil))
		},
	})
	register.Flags().StringVar(&file, "file", "", "registration file")
	register.Flags().StringVar(&asRegister, "as", consortium.MinerMSP+":miner", "the miner identity")
	register.Flags().StringVar(&approveAs, "approve-as", "", "approve as this registry identity, e.g. RegistryMSP:registrar")

	batchCmd := &cobra.Command{Use: "batch", Short: "Batches"}
	batchCmd.AddCommand(batch)
	return []*cobra.Command{initCmd, migrate, meter, register, importCmd, attest, batchCmd, proof, m.oracleCommand()}
}

// readBatch opens the ledger and reads a batch as the identity as.
func (m *Main) readBatch(ctx context.Context, dir, as, batchID string) (*workspace.Workspace, *greenmint.Identity, *greenmint.Batch, error) {
	w, err := m.open(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	l := w.Ledger
	id, err := w.Identity(as)
	if err == nil {
		var b greenmint.Batch
		if err = greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryGetBatch, greenmint.IDQuery{ID: batchID}, &b); err == nil {
			return w, id, &b, nil
		}
	}
	w.Close()
	return nil, nil, nil, err
}

// readReadingsFile reads a CSV file or JSON lines (one reading per line).
func readReadingsFile(path string) ([]oracle.Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, greenmint.Errorf(greenmint.EINVALID, "readings file: %v", err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".csv") {
		return oracle.ParseCSV(f)
	}
	var out []oracle.Parsed
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		p := oracle.Parsed{Line: line}
		p.Err = greenmint.DecodeStrict(sc.Bytes(), &p.Reading)
		out = append(out, p)
	}
	return out, sc.Err()
}

// unsignedCSV fills an empty signature column so the rows parse.
func unsignedCSV(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasSuffix(line, ",") {
				line += base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
			}
			fmt.Fprintln(pw, line)
		}
		pw.CloseWithError(sc.Err())
	}()
	return pr
}

func unique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
