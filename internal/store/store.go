// Package store is Greenmint's own database, on gorm: SQLite (pure Go, a
// file in the data directory) by default, PostgreSQL when a DSN is given.
// The schema is the versioned SQL in migrations/, applied with goose. It
// speaks greenmint types only; gorm's errors never leave it.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/migrations"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is an open database.
type DB struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB
	dialect string // "sqlite" or "postgres"

	stmtMu sync.Mutex
	stmts  map[statementKey]*sql.Stmt // the hot path's statements, prepared once
}

// Open opens dsn: a postgres:// or postgresql:// URL for PostgreSQL,
// anything else a SQLite file path. A SQLite file, its -wal and -shm files
// and any folder Open creates for it are readable by their owner only
// (0600, 0700), whatever the umask; an existing file is narrowed to 0600.
// SQLite runs in WAL mode with full
// fsync, so an acknowledged write survives a crash; a 128 MiB page cache
// keeps a batch's pages from spilling mid-transaction, statement journals
// stay in memory, and the WAL is checkpointed every 10,000 pages (a page
// rewritten by several batches is copied once per checkpoint): measured in
// BenchmarkSaveReadings, docs/benchmarks.md.
func Open(dsn string) (*DB, error) {
	var dial gorm.Dialector
	dialect := "sqlite"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dialect = "postgres"
		dial = postgres.Open(dsn)
	} else {
		if err := prepareFile(dsn); err != nil {
			return nil, err
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dial = sqlite.Open(dsn + sep + "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-131072)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(10000)")
	}
	// No prepared-statement cache (gorm's PrepareStmt): with one SQLite
	// connection it deadlocks when a transaction holding the connection
	// waits for a statement another goroutine is preparing, which waits for
	// the connection (seen with the webhook sender's concurrent deliveries);
	// on PostgreSQL the same happens when the pool is exhausted.
	gdb, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true})
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot open the %s database %s", dialect, RedactDSN(dsn))
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
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		_ = st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	return db.sqlDB.Close()
}

// Dialect reports "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Migrate applies every pending migration and returns the version reached.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	return db.MigrateTo(ctx, -1)
}

// MigrateTo migrates the schema up or down to version (-1: the latest)
// and returns the version reached. Going down is for rolling back a
// release; each migration's Down section says what it cannot restore.
func (db *DB) MigrateTo(ctx context.Context, version int64) (int64, error) {
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
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, greenmint.E(greenmint.EUNAVAILABLE, "store.Migrate", err, "reading the schema version")
	}
	sources := p.ListSources()
	latest := sources[len(sources)-1].Version
	switch {
	case version == -1:
		_, err = p.Up(ctx)
	case version < 0 || version > latest:
		return 0, greenmint.Errorf(greenmint.EINVALID, "schema version %d does not exist (0 to %d)", version, latest)
	case version > current:
		_, err = p.UpTo(ctx, version)
	case version < current:
		_, err = p.DownTo(ctx, version)
	}
	if err != nil {
		return 0, greenmint.E(greenmint.EUNAVAILABLE, "store.Migrate", err, "migrating the database")
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

func toRow(r greenmint.Reading, received time.Time) (readingRow, error) {
	s, err := greenmint.ParseTime(r.Start)
	if err != nil {
		return readingRow{}, err
	}
	e, err := greenmint.ParseTime(r.End)
	if err != nil {
		return readingRow{}, err
	}
	return readingRow{MeterID: r.MeterID, Seq: r.Seq, StartAt: s.Unix(), EndAt: e.Unix(), EnergyWh: r.EnergyWh, RegisterWh: r.RegisterWh,
		Signature: r.Signature, ReceivedAt: received.Unix()}, nil
}

func fromRow(row readingRow) greenmint.Reading {
	return greenmint.Reading{MeterID: row.MeterID, Seq: row.Seq, Start: greenmint.FormatTime(time.Unix(row.StartAt, 0)),
		End: greenmint.FormatTime(time.Unix(row.EndAt, 0)), EnergyWh: row.EnergyWh, RegisterWh: row.RegisterWh, Signature: row.Signature}
}

// translate turns a database error into a greenmint.Error: no row is
// ENOTFOUND, a unique or primary-key violation ECONFLICT (neither keeps
// the driver's error: its text names tables and columns), an ended
// context EUNAVAILABLE and anything else EINTERNAL, both keeping it.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "not found"}
	}
	if duplicate(err) {
		return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "already stored"}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &greenmint.Error{Code: greenmint.EUNAVAILABLE, Op: op, Err: err}
	}
	return &greenmint.Error{Code: greenmint.EINTERNAL, Op: op, Err: err}
}

// duplicate reports whether err is a unique or primary-key violation, by
// the driver's error type and code, never its text (which PostgreSQL
// translates into the server's language): SQLite's extended result codes
// (modernc.org/sqlite, under github.com/libtnb/sqlite) and PostgreSQL's
// SQLSTATE 23505 unique_violation (pgx, under gorm.io/driver/postgres).
func duplicate(err error) bool {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return errors.Is(err, gorm.ErrDuplicatedKey)
}

// pgUniqueViolation is PostgreSQL's SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

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

// Stored returns the stored readings named by keys (meter and interval
// start) that exist.
func (db *DB) Stored(ctx context.Context, keys []greenmint.IntervalKey) (map[greenmint.IntervalKey]greenmint.Reading, error) {
	out := make(map[greenmint.IntervalKey]greenmint.Reading, len(keys))
	for _, chunk := range chunks(keys, 300) {
		conds := make([][]any, len(chunk))
		for i, k := range chunk {
			conds[i] = []any{k.Start, k.MeterID}
		}
		var rows []readingRow
		if err := db.gdb.WithContext(ctx).Where("(start_at, meter_id) IN ?", conds).Find(&rows).Error; err != nil {
			return nil, translate("store.Stored", err)
		}
		for _, r := range rows {
			out[greenmint.IntervalKey{MeterID: r.MeterID, Start: r.StartAt}] = fromRow(r)
		}
	}
	return out, nil
}

// SaveReadings stores accepted readings and the meters' new heads in one
// transaction, with multi-row statements (no per-reading round trips).
// Nothing is stored if anything fails.
//
// This is ingestion's hot path, so it runs on gorm's connection pool with
// statements prepared once per database: gorm prepares a statement inside
// a transaction on that transaction alone and prepares it again in the
// next. On SQLite the readings go in with INSERT OR ROLLBACK: a conflict
// undoes the whole transaction, so SQLite keeps no statement journal.
func (db *DB) SaveReadings(ctx context.Context, readings []greenmint.Reading, heads map[string]greenmint.MeterHead, received time.Time) error {
	if len(readings) == 0 {
		return nil
	}
	rows := make([]readingRow, len(readings))
	for i, r := range readings {
		row, err := toRow(r, received)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	// In key order (SQLite's: start, then meter), consecutive rows land on
	// the same B-tree page.
	slices.SortFunc(rows, func(a, b readingRow) int {
		if c := cmp.Compare(a.StartAt, b.StartAt); c != 0 {
			return c
		}
		return strings.Compare(a.MeterID, b.MeterID)
	})
	args := make([]any, 0, readingColumns*len(readings))
	for _, row := range rows {
		args = append(args, row.MeterID, row.Seq, row.StartAt, row.EndAt, row.EnergyWh, row.RegisterWh, row.Signature, row.ReceivedAt)
	}
	hargs := make([]any, 0, headColumns*len(heads))
	for id, h := range heads {
		hargs = append(hargs, id, h.Seq, h.End.Unix(), h.RegisterWh)
	}
	readingChunks, err := db.chunked(ctx, insertReadings, readingColumns, args)
	if err != nil {
		return translate("store.SaveReadings", err)
	}
	headChunks, err := db.chunked(ctx, upsertHeads, headColumns, hargs)
	if err != nil {
		return translate("store.SaveReadings", err)
	}
	tx, err := db.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return translate("store.SaveReadings", err)
	}
	for _, c := range append(readingChunks, headChunks...) {
		if _, err := tx.StmtContext(ctx, c.stmt).ExecContext(ctx, c.args...); err != nil {
			_ = tx.Rollback()
			return translate("store.SaveReadings", err)
		}
	}
	return translate("store.SaveReadings", tx.Commit())
}

const (
	readingColumns = 8
	headColumns    = 4
)

// chunkRows are the row counts of the multi-row statements SaveReadings
// prepares: a batch goes in as whole chunks of the largest, the rest in
// smaller ones, so a handful of statements serve every batch size. 200 rows
// of 8 parameters stay within SQLite's and PostgreSQL's parameter limits.
var chunkRows = []int{200, 50, 10, 1}

// statement names a multi-row statement of the hot path.
type statement int

const (
	insertReadings statement = iota
	upsertHeads
)

// sql returns the statement's text for n rows in dialect.
func (st statement) sql(dialect string, n int) string {
	switch st {
	case insertReadings:
		verb := "INSERT INTO"
		if dialect == "sqlite" {
			verb = "INSERT OR ROLLBACK INTO"
		}
		return verb + " readings (meter_id, seq, start_at, end_at, energy_wh, register_wh, signature, received_at) VALUES " +
			placeholders(dialect, n, readingColumns)
	default:
		return "INSERT INTO meter_heads (meter_id, last_seq, last_end, last_register) VALUES " + placeholders(dialect, n, headColumns) +
			" ON CONFLICT (meter_id) DO UPDATE SET last_seq = excluded.last_seq, last_end = excluded.last_end, last_register = excluded.last_register"
	}
}

// placeholders returns n parenthesised groups of cols parameters: ? for
// SQLite, $1, $2, … for PostgreSQL.
func placeholders(dialect string, n, cols int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for j := 0; j < cols; j++ {
			if j > 0 {
				sb.WriteByte(',')
			}
			if dialect == "postgres" {
				sb.WriteString("$" + strconv.Itoa(i*cols+j+1))
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

type statementKey struct {
	st   statement
	rows int
}

// chunk is one execution of a multi-row statement: its prepared
// statement and its arguments.
type chunk struct {
	stmt *sql.Stmt
	args []any
}

// chunked splits args (cols values a row) into executions of st in chunks
// of chunkRows, preparing what is not prepared yet. It runs before the
// transaction begins: SQLite has one connection, which the transaction
// then holds.
func (db *DB) chunked(ctx context.Context, st statement, cols int, args []any) ([]chunk, error) {
	var out []chunk
	rows := len(args) / cols
	for _, n := range chunkRows {
		for rows >= n {
			stmt, err := db.prepared(ctx, st, n)
			if err != nil {
				return nil, err
			}
			out = append(out, chunk{stmt: stmt, args: args[:n*cols]})
			args, rows = args[n*cols:], rows-n
		}
	}
	return out, nil
}

// prepared returns st for n rows, prepared on the database once.
func (db *DB) prepared(ctx context.Context, st statement, n int) (*sql.Stmt, error) {
	key := statementKey{st: st, rows: n}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if stmt, ok := db.stmts[key]; ok {
		return stmt, nil
	}
	stmt, err := db.sqlDB.PrepareContext(ctx, st.sql(db.dialect, n))
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = map[statementKey]*sql.Stmt{}
	}
	db.stmts[key] = stmt
	return stmt, nil
}

// Readings returns the readings of the given meters whose intervals start
// in [from, to), ordered by meter and start.
//
// SQLite keys readings by start, then meter (migration 00005), so it seeks
// each meter's intervals on the 5-minute grid every resolution is aligned
// to instead of scanning every meter's readings of the period; PostgreSQL
// keys them by meter, then start, and reads each meter's range. Rows are
// scanned without gorm's reflection: the matcher reads tens of thousands.
func (db *DB) Readings(ctx context.Context, meterIDs []string, from, to time.Time) ([]greenmint.Reading, error) {
	if len(meterIDs) == 0 {
		return nil, nil
	}
	const columns = "r.meter_id, r.seq, r.start_at, r.end_at, r.energy_wh, r.register_wh, r.signature"
	var query string
	var args []any
	if db.dialect == "sqlite" {
		start, end := alignedStart(from), to.Unix()
		query = `WITH RECURSIVE grid(t) AS (SELECT ? WHERE ? < ? UNION ALL SELECT t + 300 FROM grid WHERE t + 300 < ?)
SELECT ` + columns + ` FROM grid JOIN readings r ON r.start_at = grid.t AND r.meter_id IN (` + strings.Repeat(",?", len(meterIDs))[1:] + `)
ORDER BY r.meter_id, r.start_at`
		args = []any{start, start, end, end}
		for _, id := range meterIDs {
			args = append(args, id)
		}
	} else {
		query = `SELECT ` + columns + ` FROM readings r WHERE r.meter_id = ANY($1) AND r.start_at >= $2 AND r.start_at < $3 ORDER BY r.meter_id, r.start_at`
		args = []any{meterIDs, from.Unix(), to.Unix()}
	}
	rows, err := db.sqlDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate("store.Readings", err)
	}
	defer rows.Close()
	var out []greenmint.Reading
	for rows.Next() {
		var r readingRow
		if err := rows.Scan(&r.MeterID, &r.Seq, &r.StartAt, &r.EndAt, &r.EnergyWh, &r.RegisterWh, &r.Signature); err != nil {
			return nil, translate("store.Readings", err)
		}
		out = append(out, fromRow(r))
	}
	return out, translate("store.Readings", rows.Err())
}

// alignedStart returns the first start on the 5-minute grid at or after t.
func alignedStart(t time.Time) int64 {
	u := t.Unix()
	if r := ((u % 300) + 300) % 300; r != 0 {
		u += 300 - r
	}
	return u
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
	Refusal     string `gorm:"column:refusal"`
	CreatedAt   int64  `gorm:"column:created_at"`
	UpdatedAt   int64  `gorm:"column:updated_at"`
}

func (attestationRow) TableName() string { return "attestations" }

// Attestation statuses.
const (
	AttestationSigned  = "signed"
	AttestationMinted  = "minted"
	AttestationRefused = "refused" // the ledger refused it for good; Refusal says why
)

// AttestationRecord is an attestation this oracle signed, with its status.
type AttestationRecord struct {
	ID      string
	Signed  greenmint.SignedAttestation
	Status  string
	BatchID string
	Refusal string
}

// SaveAttestation stores a signed attestation (status signed), or updates
// its signatures if it is stored already and not yet minted (one refused
// before is signed again: it is being submitted anew).
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
		DoUpdates: clause.AssignmentColumns([]string{"signed", "status", "refusal", "updated_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Neq{Column: clause.Column{Table: "attestations", Name: "status"}, Value: AttestationMinted}}},
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

// MarkRefused records that the ledger refused a signed attestation for good
// (reason: the ledger's error). It is not submitted again.
func (db *DB) MarkRefused(ctx context.Context, id, reason string, now time.Time) error {
	res := db.gdb.WithContext(ctx).Model(&attestationRow{}).Where("id = ? AND status = ?", id, AttestationSigned).
		Updates(map[string]any{"status": AttestationRefused, "refusal": reason, "updated_at": now.Unix()})
	if res.Error == nil && res.RowsAffected == 0 {
		return greenmint.Errorf(greenmint.ENOTFOUND, "no signed attestation %s is stored", id)
	}
	return translate("store.MarkRefused", res.Error)
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
		out[i] = AttestationRecord{ID: r.ID, Status: r.Status, BatchID: r.BatchID, Refusal: r.Refusal}
		if err := json.Unmarshal(r.Signed, &out[i].Signed); err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, "store.Attestations", err, "stored attestation %s does not decode", r.ID)
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
// oracle attested (signed or minted, not refused), or the zero time.
func (db *DB) LastAttestedEnd(ctx context.Context, siteID string) (time.Time, error) {
	var end sql.NullInt64
	err := db.gdb.WithContext(ctx).Model(&attestationRow{}).Where("site_id = ? AND status <> ?", siteID, AttestationRefused).Select("MAX(period_end)").Scan(&end).Error
	if err != nil {
		return time.Time{}, translate("store.LastAttestedEnd", err)
	}
	if !end.Valid {
		return time.Time{}, nil
	}
	return time.Unix(end.Int64, 0).UTC(), nil
}

// SignedAttestations returns a site's attestations that are stored as
// signed and not yet minted or refused, oldest first: what the scheduler
// submits again before it attests anything new for the site.
func (db *DB) SignedAttestations(ctx context.Context, siteID string) ([]greenmint.SignedAttestation, error) {
	var rows []attestationRow
	err := db.gdb.WithContext(ctx).Where("site_id = ? AND status = ?", siteID, AttestationSigned).
		Order("period_start, id").Find(&rows).Error
	if err != nil {
		return nil, translate("store.SignedAttestations", err)
	}
	out := make([]greenmint.SignedAttestation, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Signed, &out[i]); err != nil {
			return nil, &greenmint.Error{Code: greenmint.EINTERNAL, Op: "store.SignedAttestations", Message: "stored attestation " + r.ID + " does not decode", Err: err}
		}
	}
	return out, nil
}
