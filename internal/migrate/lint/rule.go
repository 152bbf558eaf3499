package lint

import "fmt"

// Severity is how bad a finding is. The zero value is SeverityInfo.
type Severity int

// Severities, from least to most severe.
const (
	// SeverityInfo is noted and never fails a lint.
	SeverityInfo Severity = iota
	// SeverityWarning needs a look; it fails nothing.
	SeverityWarning
	// SeverityError fails the lint unless allowed.
	SeverityError
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for _, v := range []Severity{SeverityInfo, SeverityWarning, SeverityError} {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Scope says which dialects a rule applies to.
type Scope string

// Rule scopes.
const (
	ScopeAll      Scope = "all"
	ScopeMySQL    Scope = "mysql"    // MySQL and MariaDB
	ScopePostgres Scope = "postgres" // PostgreSQL
)

// Rule is one check of the lint. Its ID is stable: overrides and CI
// configurations name it.
type Rule struct {
	ID string `json:"id"`
	// Severity is the usual severity of its findings; a finding may differ
	// (documented in Severities) when what it sees is more or less certain.
	Severity Severity `json:"severity"`
	// Severities describes when a finding's severity differs from Severity.
	Severities string `json:"severities,omitempty"`
	Scope      Scope  `json:"scope"`
	// Compat marks a rule about compatibility with the serving version;
	// contract migrations, which run only once no old version is left, are
	// exempt from it. The other rules are about locks and rewrites, which
	// hurt in any phase.
	Compat bool `json:"compat"`
	// What the rule finds, in a few words.
	What string `json:"what"`
	// Why it breaks the serving (old) version, a rollback, or the site.
	Why string `json:"why"`
	// Recipe is the safe way to make the change.
	Recipe string `json:"recipe"`
}

// Rule IDs.
const (
	RuleDropTable          = "drop-table"
	RuleDropColumn         = "drop-column"
	RuleRenameTable        = "rename-table"
	RuleRenameColumn       = "rename-column"
	RuleAddNotNullColumn   = "add-not-null-column"
	RuleChangeColumnType   = "change-column-type"
	RuleWidenColumnType    = "widen-column-type"
	RuleSetNotNull         = "set-not-null"
	RuleDropDefault        = "drop-default"
	RuleAddUnique          = "add-unique"
	RuleAddForeignKey      = "add-foreign-key"
	RuleAddCheck           = "add-check"
	RuleRemoveEnumValue    = "remove-enum-value"
	RuleIndexNotConcurrent = "index-not-concurrent"
	RuleConstraintNotValid = "constraint-not-valid"
	RuleTableRewrite       = "table-rewrite"
	RuleMySQLOnlineDDL     = "mysql-online-ddl"
	RuleConcurrentlyInTx   = "concurrently-in-transaction"
	RuleMySQLMultipleDDL   = "mysql-multiple-ddl"
	RuleParseError         = "parse-error"
	RuleBadDirective       = "bad-directive"
)

// rules is the registry, in the order they are documented.
var rules = []Rule{
	{
		ID: RuleDropTable, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		What:   "drops a table or view outside a contract migration",
		Why:    "the serving version still queries it and fails from the moment it is gone; a rollback to it fails the same way",
		Recipe: "stop using the table in one deploy, then drop it in a contract migration (-- cutover:phase contract, or a file under contract/)",
	},
	{
		ID: RuleDropColumn, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		What:   "drops a column outside a contract migration",
		Why:    "the serving version still reads and writes the column, and its queries fail once it is gone; a rollback to it fails the same way",
		Recipe: "deploy a version that no longer reads or writes the column (ignore it in the ORM), then drop it in a contract migration",
	},
	{
		ID: RuleRenameTable, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		What:   "renames a table outside a contract migration",
		Why:    "the serving version knows only the old name; its queries fail from the rename on, and a rollback cannot find the table either",
		Recipe: "create the new table, write to both, backfill, switch reads to the new one in a deploy, then drop the old one in a contract migration (or keep a view with the old name until then)",
	},
	{
		ID: RuleRenameColumn, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		What:   "renames a column outside a contract migration",
		Why:    "the serving version knows only the old name; its reads and writes of the column fail from the rename on, and so does a rollback",
		Recipe: "add the new column, write to both (in the app or a trigger), backfill, switch reads to the new column in a deploy, then drop the old column in a later contract migration",
	},
	{
		ID: RuleAddNotNullColumn, Severity: SeverityError, Scope: ScopeAll,
		What:   "adds a NOT NULL column without a default",
		Why:    "the serving version's INSERTs do not name the new column and fail; on a table with rows the ALTER itself fails",
		Recipe: "add the column with a constant DEFAULT (instant on PostgreSQL 11+ and MySQL 8/MariaDB 10.3+), or nullable; backfill; set NOT NULL in a contract migration once every writer sets it",
	},
	{
		ID: RuleChangeColumnType, Severity: SeverityError, Scope: ScopeAll,
		Severities: "warning when MySQL's MODIFY/CHANGE restates a column whose current type is not known, so it may change nothing",
		What:       "changes a column's type in a way that is not a safe widening",
		Why:        "the serving version reads and writes the old type: values it writes may no longer fit or convert, and what it reads changes under it; the change usually rewrites the table too",
		Recipe:     "add a column of the new type, write to both, backfill in batches, switch reads in a deploy, then drop the old column in a contract migration",
	},
	{
		ID: RuleWidenColumnType, Severity: SeverityWarning, Scope: ScopeAll,
		What:   "widens a column's type (a longer varchar, a bigger integer or decimal)",
		Why:    "the serving version keeps working, but values it did not expect (longer strings, bigger numbers) may reach it once the new version writes them; some widenings rewrite the table (see table-rewrite)",
		Recipe: "check that the serving version reads the wider values safely; prefer a widening that changes metadata only (varchar length within the same length-byte class on MySQL, varchar to text on PostgreSQL)",
	},
	{
		ID: RuleSetNotNull, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		Severities: "warning in a contract migration on PostgreSQL, for the full-table scan it still makes",
		What:       "makes an existing column NOT NULL",
		Why:        "the serving version may still write NULL (or omit the column) and its writes start failing; on PostgreSQL the check scans the whole table under an ACCESS EXCLUSIVE lock",
		Recipe:     "make every writer set the column, backfill the NULLs, then in a contract migration: PostgreSQL: ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL (12+ uses the check, no scan); MySQL: MODIFY with ALGORITHM=INPLACE, LOCK=NONE",
	},
	{
		ID: RuleDropDefault, Severity: SeverityWarning, Scope: ScopeAll, Compat: true,
		Severities: "error when the catalog says the column is NOT NULL",
		What:       "drops a column's default",
		Why:        "the serving version's INSERTs that leave the column out relied on the default: they now store NULL, or fail if the column is NOT NULL",
		Recipe:     "make every writer set the column first, then drop the default in a contract migration",
	},
	{
		ID: RuleAddUnique, Severity: SeverityWarning, Scope: ScopeAll,
		What:   "adds a unique constraint or index to existing columns",
		Why:    "the serving version may insert duplicates that now fail, and the build fails if duplicates already exist",
		Recipe: "remove duplicates and make the app stop writing them first; PostgreSQL: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX; MySQL: ALGORITHM=INPLACE, LOCK=NONE",
	},
	{
		ID: RuleAddForeignKey, Severity: SeverityWarning, Scope: ScopeAll,
		What:   "adds a foreign key to existing columns",
		Why:    "the serving version may write rows that the key now rejects (orphans, deletes of parents in the wrong order); MySQL builds it with a table copy unless foreign_key_checks is off",
		Recipe: "make the app write consistent rows first; PostgreSQL: ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration; MySQL: add it with ALGORITHM=INPLACE under SET foreign_key_checks=0 after checking the data",
	},
	{
		ID: RuleAddCheck, Severity: SeverityWarning, Scope: ScopeAll,
		What:   "adds a check constraint to an existing table",
		Why:    "the serving version may write rows the check now rejects",
		Recipe: "make the app write valid rows first; PostgreSQL: ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration",
	},
	{
		ID: RuleRemoveEnumValue, Severity: SeverityError, Scope: ScopeAll, Compat: true,
		What:   "removes or renames an enum value",
		Why:    "the serving version still writes the old value and fails, and rows holding it no longer convert; a rollback meets the same",
		Recipe: "add the new value first (appending it is instant), make the app write it and migrate rows, then remove the old value in a contract migration",
	},
	{
		ID: RuleIndexNotConcurrent, Severity: SeverityError, Scope: ScopePostgres,
		Severities: "warning for DROP INDEX, whose lock is short but queues every query behind it",
		What:       "creates or drops an index without CONCURRENTLY on an existing table",
		Why:        "CREATE INDEX blocks every write to the table until the index is built; DROP INDEX takes an ACCESS EXCLUSIVE lock; the serving version's requests wait or time out meanwhile",
		Recipe:     "CREATE INDEX CONCURRENTLY / DROP INDEX CONCURRENTLY, alone in a migration that does not run in a transaction; for a unique or primary key constraint, build the index concurrently and ADD CONSTRAINT ... USING INDEX",
	},
	{
		ID: RuleConstraintNotValid, Severity: SeverityError, Scope: ScopePostgres,
		What:   "adds a foreign key or check constraint without NOT VALID on an existing table",
		Why:    "the existing rows are checked under a lock that blocks the serving version's writes (for a foreign key, on both tables) for as long as the scan takes",
		Recipe: "ADD CONSTRAINT ... NOT VALID (new rows are checked from then on), then VALIDATE CONSTRAINT in a later migration, which does not block writes",
	},
	{
		ID: RuleTableRewrite, Severity: SeverityError, Scope: ScopeAll,
		Severities: "warning when a rewrite is possible but not certain (a default calling a function of unknown volatility, a type change from an unknown type)",
		What:       "rewrites the whole table under a lock: PostgreSQL: a volatile default, a serial or identity column, a stored generated column, a type change, SET TABLESPACE, VACUUM FULL, CLUSTER; MySQL/MariaDB: ALGORITHM=COPY or CONVERT TO CHARACTER SET",
		Why:        "the table is locked for the length of the copy: the serving version's reads (PostgreSQL) or writes (MySQL) wait and time out",
		Recipe:     "PostgreSQL: add the column nullable or with a constant default, then backfill in batches; for a type change, add a new column and switch to it; MySQL: use ALGORITHM=INSTANT or INPLACE, LOCK=NONE, or an online schema change tool (gh-ost, pt-online-schema-change)",
	},
	{
		ID: RuleMySQLOnlineDDL, Severity: SeverityWarning, Scope: ScopeMySQL,
		Severities: "error for LOCK=SHARED or LOCK=EXCLUSIVE",
		What:       "alters an existing table without ALGORITHM=INSTANT, or ALGORITHM=INPLACE with LOCK=NONE",
		Why:        "without the clause the server silently picks a locking algorithm (up to a full table copy) when it cannot do better, and the serving version's writes wait for it",
		Recipe:     "state ALGORITHM=INSTANT, or ALGORITHM=INPLACE, LOCK=NONE: the server then refuses a change it cannot make online instead of locking; split what it refuses into an online schema change",
	},
	{
		ID: RuleConcurrentlyInTx, Severity: SeverityError, Scope: ScopePostgres,
		Severities: "warning when the file holds other statements and is not in an explicit transaction: tools that send a file as one query run it in an implicit one",
		What:       "runs CREATE/DROP INDEX CONCURRENTLY inside a transaction",
		Why:        "PostgreSQL refuses CONCURRENTLY in a transaction block, so the migration fails halfway through the deploy",
		Recipe:     "put the concurrent index alone in its own migration file, outside BEGIN/COMMIT, and turn the tool's transaction off for it (goose: -- +goose NO TRANSACTION; dbmate: -- migrate:up transaction:false; flyway: executeInTransaction=false)",
	},
	{
		ID: RuleMySQLMultipleDDL, Severity: SeverityWarning, Scope: ScopeMySQL,
		What:   "puts several DDL statements in one MySQL/MariaDB migration file",
		Why:    "MySQL commits each DDL statement on its own: when a later one fails, the earlier ones stay applied, the tool marks the migration failed or dirty, and neither re-running nor rolling back works",
		Recipe: "one DDL statement per migration file; several changes to one table go in one ALTER TABLE",
	},
	{
		ID: RuleParseError, Severity: SeverityWarning, Scope: ScopeAll,
		Severities: "error with --strict",
		What:       "a statement the parser cannot read",
		Why:        "the lint cannot see what it changes, so it may hide any of the problems above",
		Recipe:     "check the statement by hand and allow it with a reason (-- cutover:allow parse-error reason=\"...\"), or rewrite it in syntax the parser reads",
	},
	{
		ID: RuleBadDirective, Severity: SeverityWarning, Scope: ScopeAll,
		Severities: "error with --strict",
		What:       "a cutover: comment the lint cannot read (unknown rule or phase, missing reason)",
		Why:        "the override or phase it meant does not apply, so the file is judged without it",
		Recipe:     "write -- cutover:phase contract, or -- cutover:allow RULE reason=\"why it is safe\" with a rule ID from this table",
	},
}

var rulesByID = func() map[string]*Rule {
	m := make(map[string]*Rule, len(rules))
	for i := range rules {
		m[rules[i].ID] = &rules[i]
	}
	return m
}()

// Rules returns every rule in documentation order. The slice is a copy.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// RuleByID returns the rule with id, and false when there is none.
func RuleByID(id string) (Rule, bool) {
	r, ok := rulesByID[id]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// appliesTo reports whether r applies to files of the given scope.
func (r *Rule) appliesTo(mysql bool) bool {
	switch r.Scope {
	case ScopeMySQL:
		return mysql
	case ScopePostgres:
		return !mysql
	}
	return true
}
