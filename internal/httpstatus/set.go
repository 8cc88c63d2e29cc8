package httpstatus

// Set is a set of HTTP status codes from 0 to 639; the zero value is
// empty. Codes outside that range are never members.
type Set [10]uint64

// Add puts code in the set; a code outside 0–639 is ignored.
func (s *Set) Add(code int) {
	if code >= 0 && code < 640 {
		s[code>>6] |= 1 << (code & 63)
	}
}

// Has reports whether code is in the set.
func (s *Set) Has(code int64) bool {
	return code >= 0 && code < 640 && s[code>>6]&(1<<(code&63)) != 0
}

// Empty reports whether the set has no code.
func (s *Set) Empty() bool { return *s == Set{} }
