// Package auditecho adapts secaudit's audit middleware to echo v5 (github.com/labstack/echo/v5).
package auditecho
