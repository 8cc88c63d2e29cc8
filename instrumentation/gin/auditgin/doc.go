// Package auditgin adapts secaudit's audit middleware to gin (github.com/gin-gonic/gin).
package auditgin
