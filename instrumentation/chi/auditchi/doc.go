// Package auditchi adapts secaudit's audit middleware to the chi router (github.com/go-chi/chi/v5).
package auditchi
