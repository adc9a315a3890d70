// Package store is Greenmint's own database, on gorm: SQLite (pure Go, a
// file in the data directory) by default, PostgreSQL when a DSN is given.
// The schema is the versioned SQL in migrations/, applied with goose. It
// speaks greenmint types only; gorm's errors never leave it.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/migrations"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// DB is an open database.
type DB struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB
	dialect string // "sqlite" or "postgres"
}

// Open opens dsn: a postgres:// or postgresql:// URL for PostgreSQL,
// anything else a SQLite file path. SQLite runs in WAL mode with full
// fsync, so an acknowledged write survives a crash; a 128 MiB page cache
// keeps the meters' latest pages from spilling mid-transaction, statement
// journals stay in memory, and the WAL is checkpointed every 10,000 pages
// (a meter's latest page, rewritten by every batch, is copied once per
// checkpoint): measured in BenchmarkSaveReadings, docs/benchmarks.md.
func Open(dsn string) (*DB, error) {
	var dial gorm.Dialector
	dialect := "sqlite"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dialect = "postgres"
		dial = postgres.Open(dsn)
	} else {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dial = sqlite.Open(dsn + sep + "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-131072)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(10000)")
	}
	gdb, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, PrepareStmt: true})
	if err != nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "cannot open the %s database: %v", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("store.Open: %w", err)
	}
	if dialect == "sqlite" {
		sqlDB.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	}
	return &DB{gdb: gdb, sqlDB: sqlDB, dialect: dialect}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sqlDB.Close() }

// Dialect reports "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Migrate applies every pending migration and returns the version reached.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	sub, err := fs.Sub(migrations.FS, db.dialect)
	if err != nil {
		return 0, fmt.Errorf("store.Migrate: %w", err)
	}
	d := goose.DialectSQLite3
	if db.dialect == "postgres" {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, db.sqlDB, sub)
	if err != nil {
		return 0, fmt.Errorf("store.Migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, greenmint.Errorf(greenmint.EUNAVAILABLE, "migrating the database: %v", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store.Migrate: %w", err)
	}
	return v, nil
}

// readingRow is a row of readings.
type readingRow struct {
	MeterID    string `gorm:"column:meter_id;primaryKey"`
	Seq        int64  `gorm:"column:seq"`
	StartAt    int64  `gorm:"column:start_at;primaryKey"`
	EndAt      int64  `gorm:"column:end_at"`
	EnergyWh   int64  `gorm:"column:energy_wh"`
	RegisterWh int64  `gorm:"column:register_wh"`
	Signature  []byte `gorm:"column:signature"`
	Digest     []byte `gorm:"column:digest"`
	ReceivedAt int64  `gorm:"column:received_at"`
}

func (readingRow) TableName() string { return "readings" }

type headRow struct {
	MeterID      string `gorm:"column:meter_id;primaryKey"`
	LastSeq      int64  `gorm:"column:last_seq"`
	LastEnd      int64  `gorm:"column:last_end"`
	LastRegister int64  `gorm:"column:last_register"`
}

func (headRow) TableName() string { return "meter_heads" }

func toRow(r greenmint.Reading, digest [32]byte, received time.Time) (readingRow, error) {
	s, err := greenmint.ParseTime(r.Start)
	if err != nil {
		return readingRow{}, err
	}
	e, err := greenmint.ParseTime(r.End)
	if err != nil {
		return readingRow{}, err
	}
	return readingRow{MeterID: r.MeterID, Seq: r.Seq, StartAt: s.Unix(), EndAt: e.Unix(), EnergyWh: r.EnergyWh, RegisterWh: r.RegisterWh,
		Signature: r.Signature, Digest: digest[:], ReceivedAt: received.Unix()}, nil
}

func fromRow(row readingRow) greenmint.Reading {
	return greenmint.Reading{MeterID: row.MeterID, Seq: row.Seq, Start: greenmint.FormatTime(time.Unix(row.StartAt, 0)),
		End: greenmint.FormatTime(time.Unix(row.EndAt, 0)), EnergyWh: row.EnergyWh, RegisterWh: row.RegisterWh, Signature: row.Signature}
}

func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "not found"}
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "UNIQUE constraint") || strings.Contains(err.Error(), "duplicate key") {
		return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "already stored"}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &greenmint.Error{Code: greenmint.EUNAVAILABLE, Op: op, Err: err}
	}
	return &greenmint.Error{Code: greenmint.EINTERNAL, Op: op, Err: err}
}

// Heads returns the heads of the given meters (absent meters have none).
func (db *DB) Heads(ctx context.Context, meterIDs []string) (map[string]greenmint.MeterHead, error) {
	out := make(map[string]greenmint.MeterHead, len(meterIDs))
	if len(meterIDs) == 0 {
		return out, nil
	}
	var rows []headRow
	for _, chunk := range chunks(meterIDs, 500) {
		var part []headRow
		if err := db.gdb.WithContext(ctx).Where("meter_id IN ?", chunk).Find(&part).Error; err != nil {
			return nil, translate("store.Heads", err)
		}
		rows = append(rows, part...)
	}
	for _, h := range rows {
		out[h.MeterID] = greenmint.MeterHead{Seq: h.LastSeq, End: time.Unix(h.LastEnd, 0).UTC(), RegisterWh: h.LastRegister, Known: true}
	}
	return out, nil
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

// Digests returns the stored digests of the readings named by keys (meter
// and interval start) that exist.
func (db *DB) Digests(ctx context.Context, keys []greenmint.IntervalKey) (map[greenmint.IntervalKey][32]byte, error) {
	out := make(map[greenmint.IntervalKey][32]byte, len(keys))
	for _, chunk := range chunks(keys, 300) {
		conds := make([][]any, len(chunk))
		for i, k := range chunk {
			conds[i] = []any{k.MeterID, k.Start}
		}
		var rows []readingRow
		if err := db.gdb.WithContext(ctx).Select("meter_id", "start_at", "digest").Where("(meter_id, start_at) IN ?", conds).Find(&rows).Error; err != nil {
			return nil, translate("store.Digests", err)
		}
		for _, r := range rows {
			var d [32]byte
			copy(d[:], r.Digest)
			out[greenmint.IntervalKey{MeterID: r.MeterID, Start: r.StartAt}] = d
		}
	}
	return out, nil
}

// SaveReadings stores accepted readings (digests[i] is readings[i]'s) and
// the meters' new heads in one transaction, in batches (no per-reading
// round trips). Nothing is stored if anything fails.
func (db *DB) SaveReadings(ctx context.Context, readings []greenmint.Reading, digests [][32]byte, heads map[string]greenmint.MeterHead, received time.Time) error {
	if len(readings) == 0 {
		return nil
	}
	if len(digests) != len(readings) {
		return greenmint.Errorf(greenmint.EINTERNAL, "store.SaveReadings: %d digests for %d readings", len(digests), len(readings))
	}
	rows := make([]readingRow, len(readings))
	for i, r := range readings {
		row, err := toRow(r, digests[i], received)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	hrows := make([]headRow, 0, len(heads))
	for id, h := range heads {
		hrows = append(hrows, headRow{MeterID: id, LastSeq: h.Seq, LastEnd: h.End.Unix(), LastRegister: h.RegisterWh})
	}
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insertReadings(tx, rows); err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "meter_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"last_seq", "last_end", "last_register"}),
		}).CreateInBatches(hrows, 500).Error
	})
	return translate("store.SaveReadings", err)
}

// insertRows is how many readings one INSERT statement carries: 9
// parameters each, within SQLite's and PostgreSQL's parameter limits.
const insertRows = 200

// insertReadings writes rows with multi-row INSERT statements, built once
// per size, instead of gorm's per-row reflection: ingestion's hot path.
func insertReadings(tx *gorm.DB, rows []readingRow) error {
	for len(rows) > 0 {
		n := min(len(rows), insertRows)
		var sb strings.Builder
		sb.WriteString("INSERT INTO readings (meter_id, seq, start_at, end_at, energy_wh, register_wh, signature, digest, received_at) VALUES ")
		args := make([]any, 0, 9*n)
		for i, r := range rows[:n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?)")
			args = append(args, r.MeterID, r.Seq, r.StartAt, r.EndAt, r.EnergyWh, r.RegisterWh, r.Signature, r.Digest, r.ReceivedAt)
		}
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// Readings returns the readings of the given meters whose intervals start
// in [from, to), ordered by meter and start.
func (db *DB) Readings(ctx context.Context, meterIDs []string, from, to time.Time) ([]greenmint.Reading, error) {
	var rows []readingRow
	err := db.gdb.WithContext(ctx).Where("meter_id IN ? AND start_at >= ? AND start_at < ?", meterIDs, from.Unix(), to.Unix()).
		Order("meter_id, start_at").Find(&rows).Error
	if err != nil {
		return nil, translate("store.Readings", err)
	}
	out := make([]greenmint.Reading, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out, nil
}

// CountReadings returns how many readings are stored.
func (db *DB) CountReadings(ctx context.Context) (int64, error) {
	var n int64
	err := db.gdb.WithContext(ctx).Model(&readingRow{}).Count(&n).Error
	return n, translate("store.CountReadings", err)
}

type attestationRow struct {
	ID          string `gorm:"column:id;primaryKey"`
	SiteID      string `gorm:"column:site_id"`
	PeriodStart int64  `gorm:"column:period_start"`
	PeriodEnd   int64  `gorm:"column:period_end"`
	Signed      []byte `gorm:"column:signed"`
	Status      string `gorm:"column:status"`
	BatchID     string `gorm:"column:batch_id"`
	CreatedAt   int64  `gorm:"column:created_at"`
	UpdatedAt   int64  `gorm:"column:updated_at"`
}

func (attestationRow) TableName() string { return "attestations" }

// Attestation statuses.
const (
	AttestationSigned = "signed"
	AttestationMinted = "minted"
)

// AttestationRecord is an attestation this oracle signed, with its status.
type AttestationRecord struct {
	ID      string
	Signed  greenmint.SignedAttestation
	Status  string
	BatchID string
}

// SaveAttestation stores a signed attestation (status signed), or updates
// its signatures if it is stored already and not yet minted.
func (db *DB) SaveAttestation(ctx context.Context, id string, sa *greenmint.SignedAttestation, now time.Time) error {
	raw, err := json.Marshal(sa)
	if err != nil {
		return fmt.Errorf("store.SaveAttestation: %w", err)
	}
	s, _ := greenmint.ParseTime(sa.Attestation.PeriodStart)
	e, _ := greenmint.ParseTime(sa.Attestation.PeriodEnd)
	row := attestationRow{ID: id, SiteID: sa.Attestation.SiteID, PeriodStart: s.Unix(), PeriodEnd: e.Unix(), Signed: raw, Status: AttestationSigned, CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
	err = db.gdb.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"signed", "updated_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Eq{Column: clause.Column{Table: "attestations", Name: "status"}, Value: AttestationSigned}}},
	}).Create(&row).Error
	return translate("store.SaveAttestation", err)
}

// MarkMinted records that the ledger minted an attestation as batchID.
func (db *DB) MarkMinted(ctx context.Context, id, batchID string, now time.Time) error {
	res := db.gdb.WithContext(ctx).Model(&attestationRow{}).Where("id = ?", id).
		Updates(map[string]any{"status": AttestationMinted, "batch_id": batchID, "updated_at": now.Unix()})
	if res.Error == nil && res.RowsAffected == 0 {
		return greenmint.Errorf(greenmint.ENOTFOUND, "attestation %s is not stored", id)
	}
	return translate("store.MarkMinted", res.Error)
}

// Attestations returns the stored attestations with the given status ("" for all), oldest first.
func (db *DB) Attestations(ctx context.Context, status string) ([]AttestationRecord, error) {
	q := db.gdb.WithContext(ctx).Order("created_at, id")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []attestationRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate("store.Attestations", err)
	}
	out := make([]AttestationRecord, len(rows))
	for i, r := range rows {
		out[i] = AttestationRecord{ID: r.ID, Status: r.Status, BatchID: r.BatchID}
		if err := json.Unmarshal(r.Signed, &out[i].Signed); err != nil {
			return nil, greenmint.Errorf(greenmint.EINTERNAL, "stored attestation %s does not decode: %v", r.ID, err)
		}
	}
	return out, nil
}

type gridStateRow struct {
	Region string `gorm:"column:region;primaryKey"`
	Hour   int64  `gorm:"column:hour;primaryKey"`
	State  string `gorm:"column:state"`
}

func (gridStateRow) TableName() string { return "grid_states" }

// SaveGridStates stores a region's hourly grid states; a later import of
// the same hour replaces the earlier one.
func (db *DB) SaveGridStates(ctx context.Context, region string, states map[time.Time]string) error {
	rows := make([]gridStateRow, 0, len(states))
	for h, s := range states {
		rows = append(rows, gridStateRow{Region: region, Hour: h.Unix(), State: s})
	}
	if len(rows) == 0 {
		return nil
	}
	err := db.gdb.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "region"}, {Name: "hour"}}, DoUpdates: clause.AssignmentColumns([]string{"state"}),
	}).CreateInBatches(rows, 500).Error
	return translate("store.SaveGridStates", err)
}

// GridStates returns a region's grid states for hours in [from, to).
func (db *DB) GridStates(ctx context.Context, region string, from, to time.Time) (map[time.Time]string, error) {
	var rows []gridStateRow
	if err := db.gdb.WithContext(ctx).Where("region = ? AND hour >= ? AND hour < ?", region, from.Unix(), to.Unix()).Find(&rows).Error; err != nil {
		return nil, translate("store.GridStates", err)
	}
	out := make(map[time.Time]string, len(rows))
	for _, r := range rows {
		out[time.Unix(r.Hour, 0).UTC()] = r.State
	}
	return out, nil
}

// LastAttestedEnd returns the end of the latest period of a site this
// oracle attested (signed or minted), or the zero time.
func (db *DB) LastAttestedEnd(ctx context.Context, siteID string) (time.Time, error) {
	var end sql.NullInt64
	err := db.gdb.WithContext(ctx).Model(&attestationRow{}).Where("site_id = ?", siteID).Select("MAX(period_end)").Scan(&end).Error
	if err != nil {
		return time.Time{}, translate("store.LastAttestedEnd", err)
	}
	if !end.Valid {
		return time.Time{}, nil
	}
	return time.Unix(end.Int64, 0).UTC(), nil
}
