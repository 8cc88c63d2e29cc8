package detect

import (
	"context"
	"crypto/rand"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/semconv"
)

// Processor is the sdk/log processor that feeds the rules. Register it in
// the provider after the processor chain (scrubbing and limits), so that it
// reads the records as they are delivered; setup does. It only reads the
// record and never changes it.
type Processor struct {
	active   bool
	rules    []builtin
	custom   []Rule
	state    State
	memory   *MemoryState    // nil with WithState
	shared   SharedState     // the state when it is shared (Redis), else nil
	owned    SharedState     // the shared state New opened (SECAUDIT_STATE), closed by Shutdown
	cf       CountFirer      // the state's one-round-trip evaluation, if it has one
	batch    BatchCountFirer // the state's one-round-trip evaluation of a record, if it has one
	now      func() time.Time
	key      atomic.Pointer[hashKey] // nil until a shared state knows its secret
	fields   map[string][]string     // model → sensitive fields
	logger   atomic.Pointer[loggerBox]
	seq      atomic.Uint64
	anyEvent bool // custom rules read every record
	respond  func(context.Context, Fired)

	evaluations atomic.Int64
	alerts      []atomic.Int64 // per built-in rule, then per custom rule
	panics      atomic.Int64
	stateErrors atomic.Int64
	noLogger    atomic.Int64
}

type loggerBox struct{ l log.Logger }

// New returns a detection processor, configured by opts over the
// environment (SECAUDIT_DETECT, SECAUDIT_DETECT_RULES,
// SECAUDIT_DETECT_SENSITIVE_FIELDS, SECAUDIT_STATE_MAX_BYTES,
// SECAUDIT_STATE). An invalid value is an error naming the option or
// variable. A shared store that New opens from SECAUDIT_STATE (or
// [WithStateURL]) is closed by [Processor.Shutdown].
func New(opts ...Option) (*Processor, error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	p := &Processor{active: c.enabled.Or(true), now: c.now, state: c.state, custom: c.custom, respond: c.responder}
	if p.now == nil {
		p.now = time.Now
	}
	if p.state == nil && p.active {
		s, err := c.openState()
		if err != nil {
			return nil, err
		}
		if s != nil {
			p.state, p.owned = s, s
		}
	}
	if s, ok := p.state.(SharedState); ok {
		// Instances sharing the store must hash subjects alike: the key
		// comes from the store (loadKey), not from this process.
		p.shared = s
	} else {
		var secret [32]byte
		_, _ = rand.Read(secret[:])
		p.key.Store(&hashKey{k: sampling.KeyFromSecret(string(secret[:]))})
	}
	p.cf, _ = p.state.(CountFirer)
	p.batch, _ = p.state.(BatchCountFirer)
	if fields, ok := c.fields.Get(); ok {
		p.fields = map[string][]string{}
		for _, f := range fields {
			i := strings.LastIndexByte(f, '.')
			p.fields[f[:i]] = append(p.fields[f[:i]], f[i+1:])
		}
	}
	set, _ := c.rules.Get()
	for i, r := range defaults() {
		if s, ok := set[r.name]; ok {
			r.threshold, r.window = s.threshold, s.window
		}
		if r.name == RuleSensitiveChange && len(p.fields) == 0 {
			r.threshold = 0
		}
		if r.threshold <= 0 {
			continue
		}
		r.id = mix(uint64(i+1) * 0x9e3779b97f4a7c15)
		p.rules = append(p.rules, r)
	}
	if p.state == nil {
		p.memory = NewMemoryState(c.maxBytes.Or(DefaultStateMaxBytes))
		p.state = p.memory
	}
	p.anyEvent = len(p.custom) > 0
	p.alerts = make([]atomic.Int64, len(p.rules)+len(p.custom))
	if c.logger != nil {
		p.SetLogger(c.logger)
	}
	if c.meter != nil {
		if err := p.registerMetrics(c.meter); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Active reports whether detection is on (SECAUDIT_DETECT, WithEnabled).
// An inactive processor reads nothing.
func (p *Processor) Active() bool { return p != nil && p.active }

// SetLogger sets the logger alerts are emitted through, once the provider
// the processor belongs to exists. Until then fired alerts are counted
// (Stats.Unemitted) and not emitted.
func (p *Processor) SetLogger(l log.Logger) { p.logger.Store(&loggerBox{l}) }

// Enabled implements sdklog.Processor: false, because the processor only
// observes; it never asks for a record to be emitted.
func (p *Processor) Enabled(context.Context, sdklog.EnabledParameters) bool { return false }

// Shutdown implements sdklog.Processor. It closes the shared store New
// opened from SECAUDIT_STATE, if any.
func (p *Processor) Shutdown(context.Context) error {
	if p.owned != nil {
		return p.owned.Close()
	}
	return nil
}

// hashKey is the key subjects are hashed under, and the shared secret it
// was made from (nil for the process's own).
type hashKey struct {
	k   sampling.Key
	src *byte
}

// ready reports whether subjects can be hashed: always with the memory
// store; with a shared store once it knows the shared secret. A store may
// adopt another secret (the one another instance stored after Redis lost
// its data): the key follows it, compared by the secret's address.
func (p *Processor) ready() bool {
	if p.shared == nil {
		return true
	}
	secret, ok := p.shared.HashSecret()
	if !ok || len(secret) == 0 {
		return false
	}
	if cur := p.key.Load(); cur != nil && cur.src == &secret[0] {
		return true
	}
	p.key.Store(&hashKey{k: sampling.KeyFromSecret(string(secret)), src: &secret[0]})
	return true
}

// ForceFlush implements sdklog.Processor.
func (p *Processor) ForceFlush(context.Context) error { return nil }

// OnEmit implements sdklog.Processor: it feeds the record to the rules and
// emits the alerts they fire. Alerts themselves are never evaluated.
func (p *Processor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if !p.active || r == nil {
		return nil
	}
	event := r.EventName()
	if event == semconv.EventAlert || (!p.anyEvent && !interesting(event)) {
		return nil
	}
	defer func() {
		if recover() != nil {
			p.panics.Add(1)
		}
	}()
	if !p.ready() {
		p.stateErrors.Add(1) // the shared store is not ready: fail open
		return nil
	}
	v := viewPool.Get().(*view)
	defer putView(v)
	v.read(ctx, r)
	if !p.anyEvent && v.event == semconv.EventHTTPResponseClientError &&
		v.status != 401 && v.status != 403 && v.status != 404 {
		return nil // no built-in rule counts other client errors
	}
	var now time.Time // read from the clock when a rule counts v
	if p.batch != nil {
		p.evaluateBatch(ctx, v, &now)
	} else {
		for i := range p.rules {
			p.evaluate(ctx, &p.rules[i], i, v, &now)
		}
	}
	if len(p.custom) > 0 {
		now = p.now()
		for i, cr := range p.custom {
			p.evaluateCustom(ctx, cr, len(p.rules)+i, r, v, now)
		}
	}
	return nil
}

// viewPool recycles views: a view escapes (the rules' match functions
// take it), and an ordinary record must cost no allocation.
var viewPool = sync.Pool{New: func() any { return new(view) }}

func putView(v *view) {
	*v = view{}
	viewPool.Put(v)
}

// stateOp is b's operation on the state for v, false when b does not
// read v: a Forget when a success resets the pair, else a count.
func (p *Processor) stateOp(b *builtin, v *view) (StateOp, bool) {
	if b.name == RuleBruteForce && v.event == semconv.EventLoginSuccess {
		// A success of the pair resets it.
		key, ok := p.subjectKey(b, v, 0)
		return StateOp{Key: key, Forget: true}, ok
	}
	extra, member, ok := b.match(p, v)
	if !ok {
		return StateOp{}, false
	}
	key, ok := p.subjectKey(b, v, extra)
	if !ok {
		return StateOp{}, false
	}
	return StateOp{Key: key, Distinct: b.distinct, Member: member, Limit: b.threshold, Threshold: b.threshold, Window: b.window}, true
}

// batch is the operations of one record's rules, pooled: a shared store's
// path allocates for its round trip anyway, but need not for this.
type batch struct {
	ops []StateOp
	idx []int // the rule of each operation
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

// evaluateBatch runs the built-in rules on v with a store that takes
// every rule's operation in one call (one round trip), then fires, in
// the rules' order, those whose operation was the first to reach the
// threshold in its window.
func (p *Processor) evaluateBatch(ctx context.Context, v *view, clock *time.Time) {
	bt := batchPool.Get().(*batch)
	defer func() {
		clear(bt.ops) // drop the errors
		bt.ops, bt.idx = bt.ops[:0], bt.idx[:0]
		batchPool.Put(bt)
	}()
	for i := range p.rules {
		if op, ok := p.stateOp(&p.rules[i], v); ok {
			if !op.Forget {
				p.evaluations.Add(1)
			}
			bt.ops = append(bt.ops, op)
			bt.idx = append(bt.idx, i)
		}
	}
	if len(bt.ops) == 0 {
		return
	}
	if clock.IsZero() {
		*clock = p.now()
	}
	p.batch.CountAndFireBatch(bt.ops, *clock)
	for j := range bt.ops {
		op := &bt.ops[j]
		switch {
		case op.Err != nil:
			p.stateErrors.Add(1)
		case op.Fired && !op.Forget:
			i := bt.idx[j]
			p.fire(ctx, &p.rules[i], i, op.N, v)
		}
	}
}

// evaluate runs one built-in rule on v.
func (p *Processor) evaluate(ctx context.Context, b *builtin, idx int, v *view, clock *time.Time) {
	op, ok := p.stateOp(b, v)
	if !ok {
		return
	}
	key := op.Key
	if op.Forget {
		if err := p.state.Forget(key); err != nil {
			p.stateErrors.Add(1)
		}
		return
	}
	p.evaluations.Add(1)
	if clock.IsZero() {
		*clock = p.now()
	}
	now := *clock
	var n int
	var err error
	if p.cf != nil {
		// One operation (one round trip to a shared store): count, and
		// mark fired when the threshold is reached.
		var first bool
		n, first, err = p.cf.CountAndFire(key, b.distinct, op.Member, b.threshold, b.threshold, b.window, now)
		if err != nil {
			p.stateErrors.Add(1)
			return
		}
		if first {
			p.fire(ctx, b, idx, n, v)
		}
		return
	}
	if b.distinct {
		n, err = p.state.AddDistinct(key, op.Member, b.threshold, b.window, now)
	} else {
		n, err = p.state.Count(key, b.window, now)
	}
	if err != nil {
		p.stateErrors.Add(1)
		return
	}
	if n < b.threshold {
		return
	}
	first, err := p.state.MarkFired(key, b.window, now)
	if err != nil {
		p.stateErrors.Add(1)
		return
	}
	if !first {
		return
	}
	p.fire(ctx, b, idx, n, v)
}

// fire emits b's alert for v's subject, counted n.
func (p *Processor) fire(ctx context.Context, b *builtin, idx, n int, v *view) {
	a := Alert{Category: b.category, Count: n, Window: b.window, High: b.high}
	if b.subject != byUser {
		a.Address = v.addr
	}
	p.emit(ctx, b.name, idx, a, v, b.subject != byAddress)
}

func (p *Processor) evaluateCustom(ctx context.Context, cr Rule, idx int, r *sdklog.Record, v *view, now time.Time) {
	defer func() {
		if recover() != nil {
			p.panics.Add(1)
		}
	}()
	p.evaluations.Add(1)
	a, ok := cr.Evaluate(ctx, r, p.state, now)
	if !ok {
		return
	}
	p.emit(ctx, cr.Name(), idx, a, v, false)
}

// subjectKey is the rule's key for v's subject, false when v lacks it.
func (p *Processor) subjectKey(b *builtin, v *view, extra uint64) (Key, bool) {
	h := b.id ^ extra
	switch b.subject {
	case byAddress:
		if v.addr == "" {
			return 0, false
		}
		h ^= p.hash(v.addr)
	case byUser:
		if !v.hasUser() {
			return 0, false
		}
		h ^= bits.RotateLeft64(p.userHash(v), 17)
	case byPair:
		if v.addr == "" || !v.hasUser() {
			return 0, false
		}
		h ^= p.hash(v.addr) ^ bits.RotateLeft64(p.userHash(v), 17)
	}
	return Key(mix(h)), true
}

func (p *Processor) hash(s string) uint64 { return p.key.Load().k.Draw(s) }

// userHash identifies the user of v: the claimed name when the Auditor
// passed one (internal/claim), else the emitted name, else the id.
func (p *Processor) userHash(v *view) uint64 {
	switch {
	case v.claimed != "":
		return p.hash(v.claimed)
	case v.userName != "":
		return p.hash(v.userName)
	}
	return mix(p.hash(v.userID) + 1)
}

// sensitive reports whether the model.update v touches a configured field.
func (p *Processor) sensitive(v *view) bool {
	fields := p.fields[v.model]
	if len(fields) == 0 {
		return false
	}
	if v.changed.Type() != attribute.STRINGSLICE {
		return false
	}
	for _, f := range v.changed.AsStringSlice() {
		for _, s := range fields {
			if f == s {
				return true
			}
		}
	}
	return false
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// view is what the rules read of a record.
type view struct {
	event                                string
	addr, userID, userName, claimed      string
	route, path, requestID, method, peer string
	session, model                       string
	status                               int64
	changed                              attribute.Value
}

func (v *view) hasUser() bool { return v.claimed != "" || v.userName != "" || v.userID != "" }

func (v *view) read(ctx context.Context, r *sdklog.Record) {
	v.event = r.EventName()
	v.claimed = claim.User(ctx)
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		switch kv.Key {
		case semconv.ClientAddressKey:
			v.addr = str(kv.Value)
		case semconv.UserIDKey:
			v.userID = str(kv.Value)
		case semconv.UserNameKey:
			v.userName = str(kv.Value)
		case semconv.HTTPRouteKey:
			v.route = str(kv.Value)
		case semconv.URLPathKey:
			v.path = str(kv.Value)
		case semconv.AuditRequestIDKey:
			v.requestID = str(kv.Value)
		case semconv.HTTPRequestMethodKey:
			v.method = str(kv.Value)
		case semconv.NetworkPeerAddressKey:
			v.peer = str(kv.Value)
		case semconv.SessionIDKey:
			v.session = str(kv.Value)
		case semconv.AuditModelNameKey:
			v.model = str(kv.Value)
		case semconv.HTTPResponseStatusCodeKey:
			if kv.Value.Type() == attribute.INT64 {
				v.status = kv.Value.AsInt64()
			}
		case semconv.AuditModelChangedFieldsKey:
			v.changed = kv.Value
		}
		return true
	})
}

func str(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return ""
}
