package delivery

// DropClosed accounts for one record, named eventName, that was emitted for
// p after the pipeline in front of it had shut down, and so never reached
// OnEmit (an SDK LoggerProvider drops such records without calling its
// processors): the record is counted as emitted and as dropped
// ([ReasonClosed]), so that emitted = exported + spilled + dropped holds
// for it too. A provider that wraps the SDK's calls it for each such record
// (the setup package's does); nothing else should. Safe for concurrent use;
// a nil p does nothing.
func (p *Processor) DropClosed(eventName string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.emitted.Add(1)
	p.ledger.add(ReasonClosed, eventName)
	p.mu.Unlock()
}
