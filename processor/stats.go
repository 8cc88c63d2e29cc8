package processor

import "sync/atomic"

// Stats counts what the processors did: every value replaced and every
// record dropped or skipped is counted, so no loss is silent. Each
// processor fills its own fields; [Chain.Stats] sums them. All counters are
// cumulative since construction.
type Stats struct {
	// Redacted is the number of values the Scrubber replaced with
	// "[REDACTED]" (the sum of audit.redacted_count it set).
	Redacted uint64
	// ScrubbedRecords is the number of records with at least one redaction.
	ScrubbedRecords uint64
	// Pseudonymized is the number of values replaced by a keyed pseudonym.
	Pseudonymized uint64

	// LimitTruncated is the number of values the Limiter shortened or
	// replaced with "[TRUNCATED]" (strings, maps, slices, values too deep,
	// values replaced to fit the record byte cap, non-finite floats turned
	// into strings).
	LimitTruncated uint64
	// LimitDropped is the number of attributes or map entries the Limiter
	// removed (over the attribute count, over-long keys, record byte cap).
	LimitDropped uint64

	// FilteredPath, FilteredStatus and FilteredFunc count records the
	// Filter dropped by ignored path, ignored status code and filter
	// function.
	FilteredPath   uint64
	FilteredStatus uint64
	FilteredFunc   uint64
	// FilteredSecurity is how many of the dropped records were security
	// events (4xx/5xx responses, failed logins, authz.*, security.*); a
	// non-zero value deserves a look.
	FilteredSecurity uint64
	// FilterPanics is the number of filter functions that panicked; each
	// such record was kept.
	FilterPanics uint64

	// SampledOut is the number of OK-response records the Sampler dropped.
	SampledOut uint64

	// EnricherPanics is the number of enricher calls that panicked (the
	// enricher was skipped for that record).
	EnricherPanics uint64
	// EnricherInvalid is the number of enricher calls skipped for returning
	// an invalid attribute (empty key, or a non-finite float).
	EnricherInvalid uint64
	// EnricherProtected is the number of attributes dropped because an
	// enricher tried to set a protected key.
	EnricherProtected uint64
}

// Filtered is the total number of records the Filter dropped.
func (s Stats) Filtered() uint64 { return s.FilteredPath + s.FilteredStatus + s.FilteredFunc }

func (s Stats) add(o Stats) Stats {
	s.Redacted += o.Redacted
	s.ScrubbedRecords += o.ScrubbedRecords
	s.Pseudonymized += o.Pseudonymized
	s.LimitTruncated += o.LimitTruncated
	s.LimitDropped += o.LimitDropped
	s.FilteredPath += o.FilteredPath
	s.FilteredStatus += o.FilteredStatus
	s.FilteredFunc += o.FilteredFunc
	s.FilteredSecurity += o.FilteredSecurity
	s.FilterPanics += o.FilterPanics
	s.SampledOut += o.SampledOut
	s.EnricherPanics += o.EnricherPanics
	s.EnricherInvalid += o.EnricherInvalid
	s.EnricherProtected += o.EnricherProtected
	return s
}

// counters are the live atomic counterparts of Stats.
type counters struct {
	redacted, scrubbedRecords, pseudonymized           atomic.Uint64
	limitTruncated, limitDropped                       atomic.Uint64
	filteredPath, filteredStatus, filteredFunc         atomic.Uint64
	filteredSecurity, filterPanics                     atomic.Uint64
	sampledOut                                         atomic.Uint64
	enricherPanics, enricherInvalid, enricherProtected atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Redacted:          c.redacted.Load(),
		ScrubbedRecords:   c.scrubbedRecords.Load(),
		Pseudonymized:     c.pseudonymized.Load(),
		LimitTruncated:    c.limitTruncated.Load(),
		LimitDropped:      c.limitDropped.Load(),
		FilteredPath:      c.filteredPath.Load(),
		FilteredStatus:    c.filteredStatus.Load(),
		FilteredFunc:      c.filteredFunc.Load(),
		FilteredSecurity:  c.filteredSecurity.Load(),
		FilterPanics:      c.filterPanics.Load(),
		SampledOut:        c.sampledOut.Load(),
		EnricherPanics:    c.enricherPanics.Load(),
		EnricherInvalid:   c.enricherInvalid.Load(),
		EnricherProtected: c.enricherProtected.Load(),
	}
}
