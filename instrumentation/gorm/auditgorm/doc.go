// Package auditgorm is a GORM plugin that audits model changes: after
// each successful create, update or delete it emits model.create,
// model.update or model.delete through a secaudit Auditor.
//
//	db, err := gorm.Open(sqlite.Open("app.db"), &gorm.Config{})
//	…
//	err = db.Use(auditgorm.New(auditor))
//
// Run statements with the request's context, db.WithContext(r.Context())
// (or the gRPC call's), so that each event carries the request's facts,
// its trace, and the acting user that secaudit.SetUser recorded (user.id).
// Without a request in the context, the events carry no user.
//
// # What an event says
//
//   - audit.model.name: the statement's table ("accounts").
//   - audit.model.id: the primary key of the record (parts of a composite
//     key joined by ","), taken from the model or the created row, or from
//     a WHERE condition that fixes the key to one value
//     (db.Delete(&Account{}, 3), Where(map[string]any{"id": 3})).
//   - audit.model.changed_fields (updates): the names of the columns the
//     statement set, in the order of its SET clause — the map's keys, the
//     struct's non-zero fields (every field with Save or Select("*")),
//     the one column of Update — without the timestamps GORM maintains
//     itself (autoUpdateTime, autoCreateTime). Never a value. GORM does not
//     read the prior values, so a column set to the value it had is listed
//     too.
//   - A bulk statement, whose rows a condition chose (Where("owner_id = ?",
//     7).Updates(…), a raw SQL condition, an OR), gives one event with
//     audit.model.bulk=true and audit.model.rows_affected instead of an id.
//   - A create of a slice gives one event per row; an update or delete of a
//     slice of models with keys, one per model.
//
// # When there is no event
//
// A statement that failed, was rolled back (its own transaction fails
// when a hook such as AfterCreate returns an error: the plugin's callbacks
// run last, after GORM's commit), changed no row (RowsAffected 0), ran in
// DryRun mode, or touched a table given to [WithIgnoreTables]. Statements
// GORM does not run through its create, update and delete callbacks are
// not seen: db.Exec and db.Raw with hand-written SQL. Within a transaction
// the application opened itself, an event is emitted when the statement
// succeeds; a later rollback of that transaction does not take it back.
package auditgorm
