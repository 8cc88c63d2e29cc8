// Package auditmux adapts secaudit's audit middleware to gorilla/mux (github.com/gorilla/mux).
package auditmux
