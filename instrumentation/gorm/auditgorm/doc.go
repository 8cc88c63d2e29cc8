// Package auditgorm is a GORM plugin that emits model.create, model.update and model.delete events.
package auditgorm
