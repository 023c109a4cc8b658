// Package store implements catalog.Store on SQLite (modernc.org/sqlite) and
// PostgreSQL (pgx). Both run the same SQL; the few differences live in the
// dialect type.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/metricsd/metricsd/internal/audit"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/metricsd/metricsd/internal/catalog"
	"github.com/metricsd/metricsd/internal/core"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is a catalog.Store backed by SQL. Reads go to r, writes to w; on
// PostgreSQL both are the same pool, on SQLite w is a single connection so
// that writers queue in Go instead of failing with SQLITE_BUSY.
type DB struct {
	r, w    *sql.DB
	dialect dialect
	counts  *countCache
	ids     *idCache
	// index holds the in-memory indexes of projects' metrics
	// (metric_index.go); nil when disabled.
	index *indexCache
	// rStmts and wStmts cache prepared statements per pool: parsing the
	// larger queries costs more than running them on SQLite.
	rStmts, wStmts *stmtCache
	// statements counts the statements issued, so tests can assert that a
	// request costs a fixed number of them.
	statements atomic.Int64
	// listPatches counts the cached match lists patched from the change
	// log (metric_ids.go), so tests can tell a patch from a re-read.
	listPatches atomic.Int64
	// firstPages counts the pages answered from SQL because no match
	// list could answer them (metric_ids.go); fewMatches, when set,
	// replaces the constant of that name there, for tests.
	firstPages atomic.Int64
	fewMatches int
	// stats keeps PostgreSQL's planner statistics fresh; nil on SQLite.
	stats *statsKeeper
	// wal watches SQLite's commits (nil on PostgreSQL, or when the -shm
	// file cannot be mapped); gens remembers project generations read
	// since the last commit, so ProjectGeneration needs no statement.
	wal *walStamp
	// auditIDs numbers the audit entries of one millisecond in order.
	auditIDs audit.IDs
	gens     *genCache
	path     string // of the SQLite file
	// observer learns of every committed audit entry; nil for none.
	observer Observer
	// byteOrder is true when the database orders text by its bytes, as
	// Go compares strings: always on SQLite (BINARY collation), on
	// PostgreSQL with a C collation. Cached lists are patched only then
	// (metric_ids.go).
	byteOrder bool
	noPatch   bool // see WithoutListPatches
	readFirst bool // see WithListReadFirst
	// deletionsKept is the number of metric_deletions rows a project
	// keeps after a prune (see pruneDeletions); 0 means maxPatchRows.
	deletionsKept int
	// repl pushes invalidation between replicas on PostgreSQL (see
	// replicas.go); nil on SQLite. leaseCfg, when set, makes it listen.
	repl     *replicas
	leaseCfg *LeaseConfig
	dsn      string
	// folded keeps the rollup rows folds wrote, on SQLite (see
	// FoldEvents); nil on PostgreSQL.
	folded *foldedRows
}

// Observer learns what the write seam committed. obs.Metrics is one.
type Observer interface {
	// AuditWritten is called once per audit entry, after its transaction
	// committed; kind is the entry's target kind.
	AuditWritten(kind string)
}

// Option configures Open.
type Option func(*DB)

// WithoutListCache answers every metric list page from SQL, with no
// cached match lists: the reference the cache is tested against.
func WithoutListCache() Option {
	return func(db *DB) { db.ids = nil }
}

// WithoutMetricIndex answers metric lists without the in-memory index
// of each project's metrics (metric_index.go): for comparisons, and for
// tests of the SQL paths it otherwise takes over.
func WithoutMetricIndex() Option {
	return func(db *DB) { db.index = nil }
}

// WithoutListPatches reads a cached metric match list again after any
// write of its project instead of patching it: for comparisons.
func WithoutListPatches() Option {
	return func(db *DB) { db.noPatch = true }
}

// WithListReadFirst reads the whole match list of a new filter before
// answering its first page, instead of answering that page from SQL and
// reading the list in the background: for comparisons.
func WithListReadFirst() Option {
	return func(db *DB) { db.readFirst = true }
}

// WaitListReads waits for the match lists being read in the background
// (see pageFromIDs), so that tests can tell which requests a cached list
// answers.
func (db *DB) WaitListReads() { db.ids.wait() }

// WithObserver makes o learn of every committed audit entry.
func WithObserver(o Observer) Option {
	return func(db *DB) { db.observer = o }
}

// Pools names the connection pools, for exporting their statistics: on
// SQLite the readers' and the single writer's, on PostgreSQL the one pool.
func (db *DB) Pools() map[string]*sql.DB {
	if db.r == db.w {
		return map[string]*sql.DB{db.dialect.name: db.r}
	}
	return map[string]*sql.DB{db.dialect.name + "_read": db.r, db.dialect.name + "_write": db.w}
}

// Statements returns how many SQL statements this DB has issued.
func (db *DB) Statements() int64 { return db.statements.Load() }

var _ catalog.Store = (*DB)(nil)

// Open connects to the database named by rawURL: "sqlite:PATH" (or a path
// ending in .db) or "postgres://...". It applies pending migrations.
func Open(ctx context.Context, rawURL string, opts ...Option) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(rawURL, "sqlite:"))
	default:
		return nil, fmt.Errorf("database URL must start with sqlite: or postgres://")
	}
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(db)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.dialect.name == "sqlite" {
		// The -shm file exists once a connection has read the database
		// in WAL mode, as the migrations did.
		db.wal = openWALStamp(db.path)
	}
	if db.dialect.name == "postgres" {
		// datlocprovider and datlocale are newer than some servers: read
		// through to_jsonb, absent as NULL.
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var provider, collate, locale sql.NullString
		err := db.r.QueryRowContext(qctx, `SELECT to_jsonb(d) ->> 'datlocprovider', datcollate, to_jsonb(d) ->> 'datlocale'
			FROM pg_database d WHERE datname = current_database()`).Scan(&provider, &collate, &locale)
		cancel()
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("read collation: %w", err)
		}
		switch provider.String {
		case "", "c": // libc
			db.byteOrder = byteOrderCollation(collate.String)
		case "b": // builtin
			db.byteOrder = byteOrderCollation(locale.String)
		}
		// Migrations and whatever wrote before this process started may
		// have left statistics behind.
		db.stats = newStatsKeeper(db)
		db.stats.kick()
		db.repl, err = newReplicas(ctx, db, db.dsn)
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// byteOrderCollation reports whether a PostgreSQL database collation
// (libc or builtin) orders text by its UTF-8 bytes; ICU ones never do.
func byteOrderCollation(c string) bool {
	switch strings.ToLower(c) {
	case "c", "posix", "c.utf-8", "c.utf8", "ucs_basic":
		return true
	}
	return false
}

// defaultConnectTimeout bounds opening a PostgreSQL connection unless the
// URL sets connect_timeout itself: the pool opens connections in the
// background too, where no request deadline applies.
const defaultConnectTimeout = "5"

func openPostgres(dsn string) (*DB, error) {
	if u, err := url.Parse(dsn); err == nil {
		if q := u.Query(); q.Get("connect_timeout") == "" {
			q.Set("connect_timeout", defaultConnectTimeout)
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	// Connections are replaced now and then, so that a pool does not keep
	// talking to a server that has been failed over or stalled half-open.
	// A query cancelled by its context (the request deadline) closes its
	// connection in pgx, and the pool discards it.
	pool.SetConnMaxLifetime(30 * time.Minute)
	db := &DB{r: pool, w: pool, dialect: postgresDialect, counts: newCountCache(), ids: newIDCache(), index: newIndexCache(), rStmts: newStmtCache(pool), dsn: dsn}
	db.wStmts = db.rStmts
	return db, nil
}

func openSQLite(path string) (*DB, error) {
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, fmt.Errorf("sqlite: URL needs a file path")
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	base := "file:" + path + "?"
	w, err := sql.Open("sqlite", base+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// The writer connection creates the file and switches it to WAL before
	// readers open it.
	// Switching a file to WAL needs a moment of exclusive access; another
	// process starting on the same file can hold it briefly.
	var err2 error
	for attempt := 0; attempt < 50; attempt++ {
		if err2 = w.Ping(); err2 == nil || !isBusy(err2) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err2 != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err2)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", base+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxLifetime(0)
	return &DB{r: r, w: w, dialect: sqliteDialect, byteOrder: true, counts: newCountCache(), ids: newIDCache(), index: newIndexCache(), rStmts: newStmtCache(r), wStmts: newStmtCache(w),
		path: path, gens: newGenCache(), folded: &foldedRows{}}, nil
}

// Close releases the connections.
func (db *DB) Close() error {
	db.repl.close()
	db.ids.close()
	db.stats.close()
	db.rStmts.close()
	if db.wStmts != db.rStmts {
		db.wStmts.close()
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	db.wal.close()
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Dialect names the backend: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name }

// dialect holds what differs between the backends.
type dialect struct {
	name string
	// numbered placeholders ($1) instead of ?
	numbered bool
	// lockMigrations serialises migrations and bootstrap across replicas.
	lock string
	// forShare is appended to a SELECT to lock the rows it reads against
	// deletion until the transaction ends.
	forShare string
	// forUpdate is appended to a SELECT to lock the rows it reads against
	// other writers until the transaction ends. SQLite needs neither: its
	// writers are serialised.
	forUpdate string
	// lockProject locks a project row for a write of what it holds,
	// without blocking inserts that reference it.
	lockProject string
	// lockEvents serialises folds of the event log across replicas,
	// which read-merge-write rollup rows. SQLite serialises all writers.
	lockEvents string
}

var (
	sqliteDialect   = dialect{name: "sqlite"}
	postgresDialect = dialect{name: "postgres", numbered: true, lock: "SELECT pg_advisory_xact_lock(727274)", forShare: " FOR SHARE", forUpdate: " FOR UPDATE", lockProject: " FOR NO KEY UPDATE", lockEvents: "SELECT pg_advisory_xact_lock(727275)"}
)

// unindexed marks a column so that the planner does not use an index for
// it: SQLite's unary + does that; PostgreSQL plans from statistics instead.
func (d dialect) unindexed(col string) string {
	if d.numbered {
		return col
	}
	return "+" + col
}

// rebind rewrites ? placeholders for the dialect. Queries in this package
// never contain a literal question mark.
func (d dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// classify converts driver errors into catalog sentinels, once, here.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return core.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", core.ErrDuplicate, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", core.ErrReference, err)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %v", core.ErrDuplicate, err)
		case "23503":
			return fmt.Errorf("%w: %v", core.ErrReference, err)
		case "22021", "22P05":
			// Text PostgreSQL cannot store (U+0000, invalid UTF-8). The API
			// refuses it at the boundary; this only keeps a miss from being
			// a 500.
			return fmt.Errorf("%w: %v", core.ErrUnstorable, err)
		}
	}
	if lostConnection(err) {
		return fmt.Errorf("%w: %v", core.ErrUnavailable, err)
	}
	return err
}

// lostConnection reports whether err means the connection to the database
// failed (refused, reset, closed under a query) rather than that the
// database refused the statement.
func lostConnection(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, net.ErrClosed)
}

// tx runs fn in one transaction on the writer (write) or reader pool and
// rolls back on error or panic.
func (db *DB) tx(ctx context.Context, write bool, fn func(*txn) error) error {
	return db.txCounted(ctx, write, &db.statements, fn)
}

// txCounted is tx counting its statements in count.
func (db *DB) txCounted(ctx context.Context, write bool, count *atomic.Int64, fn func(*txn) error) error {
	pool, stmts := db.r, db.rStmts
	var opts *sql.TxOptions
	if write {
		pool, stmts = db.w, db.wStmts
	} else if db.dialect.name == "postgres" {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	t, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", classify(err))
	}
	tx := &txn{tx: t, d: db.dialect, stmts: stmts, count: count, deletionsKept: db.deletionsKept}
	var seq int64
	err = runTx(tx, func(t *txn) error {
		if err := fn(t); err != nil {
			return err
		}
		if t.bumped && db.repl != nil {
			var err error
			seq, err = db.repl.announce(ctx, t)
			return err
		}
		return nil
	})
	if err != nil && errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		// database/sql rolled the transaction back when ctx ended (the
		// client went away, or the deadline passed) and the next
		// statement found it done: report the cause, not an internal
		// error.
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err == nil && seq > 0 {
		// The write is committed; its response waits until no other
		// replica can serve what it changed from memory.
		err = db.repl.await(ctx, seq)
	}
	// Statements first seen in this transaction are prepared in the
	// background, now that it holds no connection.
	if len(tx.misses) > 0 && ctx.Err() == nil {
		stmts.prepareLater(tx.misses)
	}
	for _, fn := range tx.later {
		fn()
	}
	return err
}

func runTx(tx *txn, fn func(*txn) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			_ = tx.tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.tx.Rollback()
			return
		}
		err = classify(tx.tx.Commit())
	}()
	return classify(fn(tx))
}

// readRow runs a single-row read on the reader pool with a cached prepared
// statement; it holds no connection while preparing.
func (db *DB) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	db.statements.Add(1)
	q = db.dialect.rebind(q)
	if s := db.rStmts.get(q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	db.rStmts.prepare(ctx, []string{q})
	if s := db.rStmts.get(q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return db.r.QueryRowContext(ctx, q, args...)
}

// txn wraps a transaction with placeholder rebinding and prepared
// statement reuse.
type txn struct {
	tx     *sql.Tx
	d      dialect
	stmts  *stmtCache
	misses []string // queries to prepare once the transaction is over
	count  *atomic.Int64
	n      int64 // statements issued in this transaction
	// bumped is set once the transaction changed what cached
	// representations show (bumpGeneration), so that other replicas are
	// told at commit.
	bumped bool
	// bumpedProjects lists the projects whose generation this
	// transaction has raised (see ensureBumped).
	bumpedProjects map[string]bool
	// deletionsKept is DB.deletionsKept.
	deletionsKept int
	// later runs once the transaction is over (background work it
	// started, which should not take a core from it).
	later []func()
}

// stmt returns the transaction's handle on a cached prepared statement for
// q, or nil when q cannot be cached.
func (t *txn) stmt(ctx context.Context, q string) (string, *sql.Stmt) {
	t.count.Add(1)
	t.n++
	q = t.d.rebind(q)
	if s := t.stmts.get(q); s != nil {
		return q, t.tx.StmtContext(ctx, s)
	}
	t.misses = append(t.misses, q)
	return q, nil
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q, s := t.stmt(ctx, q)
	if s != nil {
		res, err := s.ExecContext(ctx, args...)
		return res, classify(err)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	return res, classify(err)
}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q, s := t.stmt(ctx, q)
	if s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *txn) row(ctx context.Context, q string, args ...any) *sql.Row {
	q, s := t.stmt(ctx, q)
	if s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (db *DB) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	return db.tx(ctx, true, func(t *txn) error {
		if db.dialect.lock != "" {
			if _, err := t.exec(ctx, db.dialect.lock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, f := range files {
			v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name must start with a number", f)
			}
			var n int
			if err := t.row(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := migrationFS.ReadFile(f)
			if err != nil {
				return err
			}
			for _, stmt := range splitSQL(string(body)) {
				if _, err := t.exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", f, err)
				}
			}
			if step := migrationSteps[v]; step != nil {
				if err := step(ctx, t); err != nil {
					return fmt.Errorf("migration %s: %w", f, err)
				}
			}
			if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}

// splitSQL splits a migration into statements on semicolons at line ends,
// dropping comment lines.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}
