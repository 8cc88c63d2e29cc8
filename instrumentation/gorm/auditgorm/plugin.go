package auditgorm

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/setting"
	"github.com/secaudit/secaudit/semconv"
)

// Option configures a [Plugin].
type Option interface {
	apply(*Plugin)
}

type optionFunc func(*Plugin)

func (f optionFunc) apply(p *Plugin) { f(p) }

// WithIgnoreTables emits no event for statements on these tables (exact
// names, e.g. "sessions"). An empty name is an error.
func WithIgnoreTables(tables ...string) Option {
	tables = append([]string{}, tables...)
	return optionFunc(func(p *Plugin) {
		for _, t := range tables {
			if t == "" {
				p.err = setting.Invalid("WithIgnoreTables", `""`, "table names")
				return
			}
		}
		p.ignore = append(p.ignore, tables...)
	})
}

// Plugin is the GORM plugin that audits model changes; register it with
// db.Use(auditgorm.New(auditor)). It is safe for concurrent use.
type Plugin struct {
	auditor *secaudit.Auditor
	ignore  []string
	err     error // the first invalid option, returned by Initialize

	events atomic.Uint64
}

var _ gorm.Plugin = (*Plugin)(nil)

// New returns the plugin, emitting through a (a nil Auditor emits
// nothing). An invalid option is reported by Initialize, which db.Use
// calls, so db.Use returns it.
func New(a *secaudit.Auditor, opts ...Option) *Plugin {
	p := &Plugin{auditor: a}
	for _, o := range opts {
		if o != nil && p.err == nil {
			o.apply(p)
		}
	}
	return p
}

// Name returns the plugin's name for gorm.DB.Use: "secaudit".
func (p *Plugin) Name() string { return "secaudit" }

// Events returns the number of model events the plugin has emitted.
func (p *Plugin) Events() uint64 { return p.events.Load() }

// Names of the callbacks the plugin registers.
const (
	createCallback = "secaudit:create"
	setCallback    = "secaudit:update_set"
	updateCallback = "secaudit:update"
	deleteCallback = "secaudit:delete"
	ownSetKey      = "secaudit:own_set"
)

// commit is GORM's last callback of a create, update or delete: it commits
// the statement's own transaction, or rolls it back when the statement, a
// hook or an association failed.
const commit = "gorm:commit_or_rollback_transaction"

// Initialize registers the plugin's callbacks: last in the create, update
// and delete chains (after the statement, its hooks and associations, and
// the commit of GORM's default transaction, so that a statement rolled
// back gives no event), and one just before gorm:update that builds the
// statement's SET clause (as gorm:update would) so that the names of the
// columns set are known afterwards.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if p.err != nil {
		return p.err
	}
	cb := db.Callback()
	return firstError(
		cb.Create().After(commit).Register(createCallback, p.afterCreate),
		cb.Update().After("gorm:save_before_associations").Before("gorm:update").Register(setCallback, p.beforeUpdate),
		cb.Update().After(commit).Register(updateCallback, p.afterUpdate),
		cb.Delete().After(commit).Register(deleteCallback, p.afterDelete),
	)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// done reports whether a statement changed rows the plugin audits.
func (p *Plugin) done(db *gorm.DB) bool {
	st := db.Statement
	return p.auditor != nil && db.Error == nil && !st.DryRun && db.RowsAffected > 0 && !slices.Contains(p.ignore, st.Table)
}

func (p *Plugin) afterCreate(db *gorm.DB) {
	if !p.done(db) {
		return
	}
	st := db.Statement
	createdIDs(st, func(id string) {
		p.auditor.ModelCreated(st.Context, secaudit.Model{Name: st.Table, ID: id})
		p.events.Add(1)
	})
}

// beforeUpdate builds the SET clause that gorm:update would build, and
// marks it as the plugin's, so that gorm:update uses it as it is and
// afterUpdate can read it and then remove it (as gorm:update removes the
// one it builds).
func (p *Plugin) beforeUpdate(db *gorm.DB) {
	st := db.Statement
	if db.Error != nil || st.SQL.Len() != 0 {
		return
	}
	if _, ok := st.Clauses["SET"]; ok {
		return // the application's own clause.Set
	}
	if set := callbacks.ConvertToAssignments(st); len(set) != 0 {
		st.AddClause(set)
		// Keyed by the statement: sessions may share Settings.
		st.Settings.Store(ownSetKey, st)
	}
}

func (p *Plugin) afterUpdate(db *gorm.DB) {
	st := db.Statement
	c, hasSet := st.Clauses["SET"]
	if own, _ := st.Settings.Load(ownSetKey); own == st {
		delete(st.Clauses, "SET")
		st.Settings.Delete(ownSetKey)
	}
	if !hasSet || !p.done(db) {
		return
	}
	set, _ := c.Expression.(clause.Set)
	changed := columnNames(st.Schema, set)
	p.emit(db, p.auditor.ModelUpdated, changed)
}

func (p *Plugin) afterDelete(db *gorm.DB) {
	if p.done(db) {
		p.emit(db, p.auditor.ModelDeleted, nil)
	}
}

// emit reports an update or delete: one event per identified record, or
// one bulk event.
func (p *Plugin) emit(db *gorm.DB, report func(ctx context.Context, m secaudit.Model, attrs ...attribute.KeyValue), changed []string) {
	st := db.Statement
	if ids := targetIDs(st); len(ids) > 0 {
		for _, id := range ids {
			report(st.Context, secaudit.Model{Name: st.Table, ID: id, ChangedFields: changed})
			p.events.Add(1)
		}
		return
	}
	report(st.Context, secaudit.Model{Name: st.Table, ChangedFields: changed},
		semconv.AuditModelBulkKey.Bool(true),
		semconv.AuditModelRowsAffectedKey.Int64(db.RowsAffected))
	p.events.Add(1)
}

// columnNames returns the names of the columns a SET clause assigns, in
// its order, without the timestamps GORM maintains itself (autoUpdateTime,
// autoCreateTime): what the application set.
func columnNames(s *schema.Schema, set clause.Set) []string {
	names := make([]string, 0, len(set))
	for _, a := range set {
		if s != nil {
			if f := s.LookUpField(a.Column.Name); f != nil && (f.AutoUpdateTime > 0 || f.AutoCreateTime > 0) {
				continue
			}
		}
		if a.Column.Name != "" && !slices.Contains(names, a.Column.Name) {
			names = append(names, a.Column.Name)
		}
	}
	return names
}

// createdIDs calls f with the primary key of each row a create inserted
// ("" when a row's key is unknown).
func createdIDs(st *gorm.Statement, f func(id string)) {
	rv := st.ReflectValue
	switch rv.Kind() {
	case reflect.Struct:
		f(structID(st, rv))
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			f(rowID(st, rv.Index(i)))
		}
	case reflect.Map:
		f(mapID(st, rv))
	default:
		f("")
	}
}

// rowID is the key of one row of a slice: a struct (or pointer to one) or
// a map.
func rowID(st *gorm.Statement, v reflect.Value) string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		return structID(st, v)
	case reflect.Map:
		return mapID(st, v)
	}
	return ""
}

// structID returns a struct's primary key ("," between the parts of a
// composite key), or "" when a part is zero.
func structID(st *gorm.Statement, v reflect.Value) string {
	if st.Schema == nil || len(st.Schema.PrimaryFields) == 0 {
		return ""
	}
	if len(st.Schema.PrimaryFields) == 1 {
		value, zero := st.Schema.PrimaryFields[0].ValueOf(st.Context, v)
		if zero {
			return ""
		}
		return idText(value)
	}
	parts := make([]string, 0, len(st.Schema.PrimaryFields))
	for _, f := range st.Schema.PrimaryFields {
		value, zero := f.ValueOf(st.Context, v)
		if zero {
			return ""
		}
		parts = append(parts, idText(value))
	}
	return strings.Join(parts, ",")
}

// mapID returns the primary key a map row gives (by field or column name).
func mapID(st *gorm.Statement, v reflect.Value) string {
	if st.Schema == nil || len(st.Schema.PrimaryFields) != 1 || v.Type().Key().Kind() != reflect.String {
		return ""
	}
	f := st.Schema.PrimaryFields[0]
	for _, name := range []string{f.Name, f.DBName} {
		if e := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key())); e.IsValid() {
			return idText(e.Interface())
		}
	}
	return ""
}

// targetIDs returns the keys of the records an update or delete was
// about, when the statement identified them: the model's (or each slice
// element's) primary key, or a primary-key condition with one value in
// the WHERE clause (db.Delete(&Account{}, 3)). None: a bulk statement.
func targetIDs(st *gorm.Statement) []string {
	if st.Schema == nil {
		return nil
	}
	rv := st.ReflectValue
	switch rv.Kind() {
	case reflect.Struct:
		if id := structID(st, rv); id != "" {
			return []string{id}
		}
	case reflect.Slice, reflect.Array:
		ids := make([]string, 0, rv.Len())
		for i := range rv.Len() {
			id := rowID(st, rv.Index(i))
			if id == "" {
				ids = nil
				break
			}
			ids = append(ids, id)
		}
		if len(ids) > 0 {
			return ids
		}
	}
	if id := whereID(st); id != "" {
		return []string{id}
	}
	return nil
}

// whereID finds, among the WHERE clause's ANDed conditions, one that
// fixes a single-column primary key to one value; "" when there is none
// or when the conditions are ORed.
func whereID(st *gorm.Statement) string {
	if len(st.Schema.PrimaryFields) != 1 {
		return ""
	}
	c, ok := st.Clauses["WHERE"]
	if !ok {
		return ""
	}
	where, ok := c.Expression.(clause.Where)
	if !ok {
		return ""
	}
	pk := st.Schema.PrimaryFields[0].DBName
	isPK := func(col any) bool {
		switch c := col.(type) {
		case clause.Column:
			return c.Name == clause.PrimaryKey || c.Name == pk
		case string:
			return c == pk
		}
		return false
	}
	id := ""
	for _, e := range where.Exprs {
		switch e := e.(type) {
		case clause.OrConditions:
			return ""
		case clause.Eq:
			if isPK(e.Column) && id == "" {
				id = idText(e.Value)
			}
		case clause.IN:
			if isPK(e.Column) && len(e.Values) == 1 && id == "" {
				id = idText(e.Values[0])
			}
		}
	}
	return id
}

// idText formats a key value: a number, a string or a fmt.Stringer (a
// UUID type); anything else (an expression, a slice) gives "".
func idText(v any) string {
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10)
	}
	return ""
}
