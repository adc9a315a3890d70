package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/oracle"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func (m *Main) readingsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "readings", Short: "Meter readings in the oracle's database"}
	cmd.AddCommand(m.readingsImportCommand())
	return cmd
}

func (m *Main) readingsImportCommand() *cobra.Command {
	var ws wsFlags
	var file, as string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import readings (CSV, or JSON lines) through the oracle's validation; prints accepted, duplicate and rejected rows with reasons",
		Long: "Checks every reading as the oracle's service does (R6: the meter's registered key, sequence, interval,\n" +
			"register continuity, physical bounds; docs/oracle.md) and stores the valid ones in the oracle's\n" +
			"database. A rejected row is reported with its line and reason; the others are kept. A file ending\n" +
			"in .csv is CSV (" + oracle.CSVHeader + "), any other JSON lines.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rows, err := readReadingsFile(file)
			if err != nil {
				return err
			}
			w, err := ws.open()
			if err != nil {
				return err
			}
			defer w.Close()
			id, err := w.Identity(as)
			if err != nil {
				return err
			}
			db, err := w.Config.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: w.Ledger, ID: id, TTL: time.Minute}, nil)
			total := &oracle.Summary{}
			var bar *progressbar.ProgressBar
			if !m.asJSON {
				bar = progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(m.Err), progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount())
			}
			// The file is sent in parts; each meter's readings go in
			// sequence order across all parts (the ingester orders them
			// only within one part), so a file listed newest first loses
			// nothing. Results are reported in the file's order.
			order := make([]int, len(rows))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool {
				ra, rb := rows[order[a]].Reading, rows[order[b]].Reading
				if ra.MeterID != rb.MeterID {
					return ra.MeterID < rb.MeterID
				}
				return ra.Seq < rb.Seq
			})
			chunk := importChunk
			for i := 0; i < len(order); i += chunk {
				part := make([]oracle.Parsed, 0, chunk)
				for _, k := range order[i:min(i+chunk, len(order))] {
					part = append(part, rows[k])
				}
				s, err := in.Ingest(ctx, part)
				if err != nil {
					return err
				}
				for j := range s.Results {
					s.Results[j].Index = order[i+s.Results[j].Index]
				}
				total.Accepted += s.Accepted
				total.Duplicate += s.Duplicate
				total.Rejected += s.Rejected
				total.Results = append(total.Results, s.Results...)
				if bar != nil {
					_ = bar.Add(len(part))
				}
			}
			sort.SliceStable(total.Results, func(a, b int) bool { return total.Results[a].Index < total.Results[b].Index })
			if m.asJSON {
				return m.emitJSON(total)
			}
			fmt.Fprintf(m.Out, "\n%d accepted, %d duplicate, %d rejected\n", total.Accepted, total.Duplicate, total.Rejected)
			for _, r := range total.Results {
				if r.Outcome == oracle.Rejected {
					fmt.Fprintf(m.Out, "  line %d %s #%d: %s: %s\n", r.Line, r.MeterID, r.Seq, r.Reason, r.Message)
				}
			}
			return nil
		},
	}
	ws.bind(cmd, true, true)
	cmd.Flags().StringVar(&file, "file", "", "readings.csv or readings.jsonl")
	cmd.Flags().StringVar(&as, "as", consortium.OracleAMSP+":oracle", "the oracle identity that reads meters from the ledger (MSP:user)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// readReadingsFile reads a CSV file or JSON lines (one reading per line).
// importChunk is how many readings `readings import` sends the ingester at
// once (a variable so that tests can make files span several parts).
var importChunk = 5000

func readReadingsFile(path string) ([]oracle.Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "readings file", Err: err}
	}
	defer f.Close()
	if strings.HasSuffix(path, ".csv") {
		rows, err := oracle.ParseCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return rows, nil
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
	if err := sc.Err(); err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: path, Err: err}
	}
	return out, nil
}
